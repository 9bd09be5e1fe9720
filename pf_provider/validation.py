"""Checks of the caller's input, run before any request is sent.

Every function either returns the value in the form the API expects or raises
:class:`~pf_provider.errors.InvalidInputError` with a message that says what to fix.
Orchestrators template values into strings, so numeric strings are accepted where a
number is expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from . import catalog
from .errors import InvalidInputError

_SCENARIO_BY_VALUE = {Decimal(s): s for s in catalog.WARMING_SCENARIOS}
_SCENARIO_CHOICES = ", ".join(catalog.WARMING_SCENARIOS)


def _as_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise InvalidInputError(f"{name} must be a number, got the text {value!r}") from None
    elif isinstance(value, (int, float, Decimal)):
        try:
            number = float(value)
        except (OverflowError, ValueError):  # an int beyond any float, Decimal("sNaN")
            raise InvalidInputError(f"{name} must be a finite number, got {value!r:.40}") from None
    else:
        raise InvalidInputError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    return number


def validate_latitude(value: Any) -> float:
    latitude = _as_number(value, "latitude")
    if not -90.0 <= latitude <= 90.0:
        raise InvalidInputError(f"latitude must be between -90 and 90 degrees, got {value!r}")
    return latitude


def validate_longitude(value: Any) -> float:
    longitude = _as_number(value, "longitude")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidInputError(
            f"longitude must be between -180 and 180 degrees, got {value!r}"
            + (" (did you swap latitude and longitude?)" if -90 <= longitude <= 90 else "")
        )
    return longitude


def _scenario(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"warming scenario must be one of {_SCENARIO_CHOICES}, got {value!r}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInputError(
            f"warming scenario must be one of {_SCENARIO_CHOICES} (degrees of warming), got {value!r}"
        ) from None
    if not number.is_finite():
        raise InvalidInputError(f"warming scenario must be one of {_SCENARIO_CHOICES}, got {value!r}")
    scenario = _SCENARIO_BY_VALUE.get(number)
    if scenario is None:
        raise InvalidInputError(
            f"warming scenario {value!r} is not served; choose among {_SCENARIO_CHOICES} "
            "(degrees Celsius of warming above pre-industrial)"
        )
    return scenario


def normalize_scenarios(value: Any) -> tuple[str, ...] | None:
    """One scenario or several, as the strings the server expects; ``None`` means all six."""
    if value is None:
        return None
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        text = value.strip() if isinstance(value, str) else None
        if text is not None and "," in text:
            value = [part for part in text.split(",") if part.strip()]
        else:
            return (_scenario(value),)
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"warming_scenario must be a value or a list of values among {_SCENARIO_CHOICES}, got {value!r}"
        )
    scenarios = tuple(dict.fromkeys(_scenario(v) for v in value))
    if not scenarios:
        raise InvalidInputError("warming_scenario is an empty list; pass None for all six scenarios")
    return scenarios


def _dataset_id(value: Any, allow_unknown: bool) -> int:
    if isinstance(value, bool):
        raise InvalidInputError(f"dataset id must be an integer such as 40104, got {value!r}")
    if isinstance(value, int):
        dataset_id = value
    elif isinstance(value, str) and value.strip().isdecimal():  # isdigit() also takes "²", which int() refuses
        text = value.strip()
        dataset_id = int(text) if len(text) <= 20 else 2**31  # out of range anyway; int() refuses 4,300+ digits
    elif isinstance(value, float) and value.is_integer():
        raise InvalidInputError(f"dataset id must be an integer, got the float {value!r}; write {int(value)}")
    else:
        raise InvalidInputError(f"dataset id must be an integer such as 40104, got {value!r}")
    if not 0 < dataset_id < 2**31:  # GraphQL Int is 32-bit; the server would answer only a masked error
        raise InvalidInputError(f"dataset id {value!r:.40} is out of range; ids are positive integers such as 40104")
    if not allow_unknown and catalog.find_dataset(dataset_id) is None:
        raise InvalidInputError(
            f"dataset id {dataset_id} is not in pf_provider's catalog of published maps "
            "(`pf-provider datasets` lists them); if it is a map published after this release, "
            "pass allow_unknown_datasets=True to the client"
        )
    return dataset_id


def normalize_dataset_ids(value: Any, *, allow_unknown: bool = False) -> tuple[int, ...] | None:
    """One dataset id or several; ``None`` means every dataset."""
    if value is None:
        return None
    if isinstance(value, str) and "," in value:
        value = [part for part in value.split(",") if part.strip()]
    if isinstance(value, (int, str, float)):
        return (_dataset_id(value, allow_unknown),)
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(f"dataset_id must be an integer or a list of integers, got {value!r}")
    ids = tuple(dict.fromkeys(_dataset_id(v, allow_unknown) for v in value))
    if not ids:
        raise InvalidInputError("dataset_id is an empty list; pass None for every dataset")
    return ids


def _place_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be text, got {type(value).__name__} {value!r}")
    text = value.strip()
    if not text:
        return None
    if len(text) > 500:
        raise InvalidInputError(f"{name} is {len(text)} characters long; keep it under 500")
    return text


@dataclass(frozen=True)
class Location:
    """A point (latitude and longitude) or a place (country, city, address) the server geocodes."""

    latitude: float | None = None
    longitude: float | None = None
    country: str | None = None
    city: str | None = None
    address: str | None = None

    @property
    def is_point(self) -> bool:
        return self.latitude is not None

    def to_input(self) -> dict[str, Any]:
        """The location members of ``GetDatasetStatisticsInput``."""
        if self.is_point:
            return {"latitude": self.latitude, "longitude": self.longitude}
        place = {"country": self.country, "city": self.city, "address": self.address}
        return {k: v for k, v in place.items() if v is not None}

    def describe(self) -> str:
        if self.is_point:
            return f"({self.latitude}, {self.longitude})"
        return ", ".join(v for v in (self.address, self.city, self.country) if v)


def validate_location(
    *,
    latitude: Any = None,
    longitude: Any = None,
    country: Any = None,
    city: Any = None,
    address: Any = None,
) -> Location:
    """A :class:`Location` from keyword inputs, or an error saying what is missing."""
    has_lat = latitude is not None and latitude != ""
    has_lon = longitude is not None and longitude != ""
    country_text = _place_text(country, "country")
    city_text = _place_text(city, "city")
    address_text = _place_text(address, "address")
    has_place = any((country_text, city_text, address_text))
    if has_lat or has_lon:
        if not (has_lat and has_lon):
            missing = "longitude" if has_lat else "latitude"
            raise InvalidInputError(f"a point needs both latitude and longitude; {missing} is missing")
        if has_place:
            raise InvalidInputError("give either latitude/longitude or a place (country, city, address), not both")
        return Location(latitude=validate_latitude(latitude), longitude=validate_longitude(longitude))
    if not has_place:
        raise InvalidInputError(
            "no location given: pass latitude and longitude, or a place (country, city with a "
            "country or an address, or an address)"
        )
    if city_text and not (country_text or address_text):
        raise InvalidInputError(
            f"city {city_text!r} needs a country or an address too, so the server can tell "
            "which one you mean (e.g. city='Paris', country='France')"
        )
    return Location(country=country_text, city=city_text, address=address_text)


def coerce_location(value: Any) -> Location:
    """A :class:`Location` from a Location, a mapping, or a ``(latitude, longitude)`` pair."""
    if isinstance(value, Location):
        return value
    if isinstance(value, Mapping):
        known = {"latitude", "longitude", "country", "city", "address", "lat", "lon", "lng"}
        unknown = set(value) - known - {"site_id", "id", "name"}
        if unknown:
            raise InvalidInputError(
                f"unknown location keys {sorted(unknown, key=str)}; use latitude/longitude or country/city/address"
            )
        return validate_location(
            latitude=value.get("latitude", value.get("lat")),
            longitude=value.get("longitude", value.get("lon", value.get("lng"))),
            country=value.get("country"),
            city=value.get("city"),
            address=value.get("address"),
        )
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return validate_location(latitude=value[0], longitude=value[1])
    raise InvalidInputError(
        f"a location must be a mapping like {{'latitude': 40.7, 'longitude': -73.9}}, "
        f"a (latitude, longitude) pair or a place mapping, got {value!r}"
    )
