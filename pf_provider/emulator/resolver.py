"""``getDatasetStatistics``: from the mutation's input to the response rows.

Follows the production server step by step: a place is geocoded only when latitude or
longitude is missing (or 0, the server tests them for truthiness) and a country or an
address is given; a place the geocoder cannot find becomes the point (-9999, -9999), which
the database then refuses as an invalid longitude; the database checks longitude before
latitude; a missing coordinate makes the database pick an arbitrary cell (here: the cell
at 0°N 0°E); an unknown dataset id or scenario simply matches no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pf_provider.catalog import WARMING_SCENARIOS, all_datasets, find_dataset
from pf_provider.emulator.data import snap, statistics_row
from pf_provider.emulator.gazetteer import geocode

RAISE_EXCEPTION = "P0001"  # SQLSTATE of a PL/pgSQL `raise exception`
INVALID_TEXT_REPRESENTATION = "22P02"  # SQLSTATE of a failed cast to numeric

_NOT_FOUND = -9999.0  # what the server's geocoder returns for a place it cannot find
_SCENARIO_VALUES = {Decimal(s): s for s in WARMING_SCENARIOS}


class ResolverError(Exception):
    """A database-side failure: its message and SQLSTATE travel in the GraphQL error."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def _scenarios(raw: Any) -> list[str]:
    if raw is None:
        return list(WARMING_SCENARIOS)
    wanted: set[str] = set()
    for item in raw if isinstance(raw, list) else [raw]:
        if item is None:
            continue
        try:
            value = Decimal(str(item).strip())
        except InvalidOperation:
            raise ResolverError(
                f'invalid input syntax for type numeric: "{item}"', INVALID_TEXT_REPRESENTATION
            ) from None
        if value.is_finite() and value in _SCENARIO_VALUES:
            wanted.add(_SCENARIO_VALUES[value])
    return [s for s in WARMING_SCENARIOS if s in wanted]


def _point(inp: Mapping[str, Any]) -> tuple[float | None, float | None]:
    latitude, longitude = inp.get("latitude"), inp.get("longitude")
    country, city, address = inp.get("country"), inp.get("city"), inp.get("address")
    if (not longitude or not latitude) and (country or address):
        place = geocode(country, city, address)
        if place is None:
            return _NOT_FOUND, _NOT_FOUND
        return place.latitude, place.longitude
    return latitude, longitude


def get_dataset_statistics(inp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows for one input, ordered by dataset id then warming scenario."""
    latitude, longitude = _point(inp)
    if longitude is not None and not -180.0 <= longitude <= 180.0:
        raise ResolverError("Invalid longitude param.", RAISE_EXCEPTION)
    if latitude is not None and not -90.0 <= latitude <= 90.0:
        raise ResolverError("Invalid latitude param.", RAISE_EXCEPTION)
    scenarios = _scenarios(inp.get("warmingScenario"))
    dataset_id = inp.get("datasetId")
    if dataset_id is None:
        datasets = all_datasets()
    else:
        found = find_dataset(dataset_id)
        datasets = (found,) if found is not None else ()
    if latitude is None or longitude is None:
        latitude = longitude = 0.0
    cell = snap(latitude, longitude)
    return [statistics_row(dataset, scenario, cell) for dataset in datasets for scenario in scenarios]
