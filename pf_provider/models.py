"""Typed records parsed from the API's answers.

The server sends BigFloats as strings; they become floats here, once, so downstream code
compares numbers. Anything that does not have the documented shape raises
:class:`~pf_provider.errors.InvalidResponseError` naming the field, never a
``KeyError``/``TypeError`` from deep inside.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError, InvalidResponseError

# snake_case attribute -> GraphQL field of DatasetStatisticsResponse
FIELD_NAMES: dict[str, str] = {
    "dataset_id": "datasetId",
    "name": "name",
    "unit": "unit",
    "warming_scenario": "warmingScenario",
    "low_value": "lowValue",
    "mid_value": "midValue",
    "high_value": "highValue",
    "latitude": "latitude",
    "longitude": "longitude",
    "map_category": "mapCategory",
    "info": "info",
    "values": "values",
    "cumulative_probability": "cumulativeProbability",
}
_GRAPHQL_TO_ATTR = {v: k for k, v in FIELD_NAMES.items()}
DEFAULT_FIELDS: tuple[str, ...] = tuple(f for f in FIELD_NAMES if f != "cumulative_probability")
REQUIRED_FIELDS: tuple[str, ...] = ("dataset_id", "warming_scenario")
SUMMARY_FIELDS: tuple[str, ...] = tuple(f for f in DEFAULT_FIELDS if f != "values")


def normalize_fields(fields: Iterable[str] | str | None) -> tuple[str, ...]:
    """The GraphQL field names to request, from snake_case or camelCase names.

    ``dataset_id`` and ``warming_scenario`` are always requested: a row cannot be
    identified without them.
    """
    if fields is None:
        chosen: Iterable[str] = DEFAULT_FIELDS
    elif isinstance(fields, str):
        chosen = [f.strip() for f in fields.split(",") if f.strip()]
    elif isinstance(fields, Iterable):
        chosen = list(fields)
    else:
        raise InvalidInputError(
            f"fields must be a list of field names or comma-separated text, got {type(fields).__name__} {fields!r:.80}"
        )
    attrs: list[str] = list(REQUIRED_FIELDS)
    for field in chosen:
        if not isinstance(field, str):
            raise InvalidInputError(f"field names must be text, got {field!r}")
        attr = field if field in FIELD_NAMES else _GRAPHQL_TO_ATTR.get(field)
        if attr is None:
            raise InvalidInputError(f"unknown field {field!r}; choose among {', '.join(FIELD_NAMES)}")
        if attr not in attrs:
            attrs.append(attr)
    return tuple(FIELD_NAMES[a] for a in attrs)


def _number(raw: Any, field: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InvalidResponseError(f"{field} should be a number, got {raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError, OverflowError):
        raise InvalidResponseError(f"{field} should be a number, got {raw!r:.80}") from None


class Percentiles(Sequence[float]):
    """Numbers the server sent as strings, converted to floats on first use.

    Converting 101 strings per row costs several times more than decoding the JSON
    around them, and many pipelines only read low/mid/high. Anything that is not a
    number raises :class:`InvalidResponseError` when the values are first read.
    """

    __slots__ = ("_field", "_floats", "_raw")

    def __init__(self, raw: list[Any], *, field: str = "values"):
        self._raw: list[Any] | None = raw
        self._floats: tuple[float, ...] | None = None
        self._field = field

    def _values(self) -> tuple[float, ...]:
        if self._floats is None:
            raw = self._raw or []
            try:
                if any(type(v) is bool for v in raw):
                    raise TypeError("bool")
                self._floats = tuple(map(float, raw))
            except (TypeError, ValueError, OverflowError):
                raise InvalidResponseError(f"{self._field} should hold only numbers, got {raw!r:.80}") from None
            self._raw = None
        return self._floats

    def __len__(self) -> int:
        return len(self._raw) if self._floats is None else len(self._floats)

    def __getitem__(self, index: Any) -> Any:
        return self._values()[index]

    def __iter__(self) -> Iterator[float]:
        return iter(self._values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Percentiles):
            return self._values() == other._values()
        if isinstance(other, (tuple, list)):
            return self._values() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return repr(self._values())


def _numbers(raw: Any, field: str) -> Percentiles | None:
    if raw is None:
        return None
    if type(raw) is not list:
        raise InvalidResponseError(f"{field} should be a list of numbers, got {type(raw).__name__}")
    return Percentiles(raw, field=field)


def _text(raw: Any, field: str) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    raise InvalidResponseError(f"{field} should be text, got {type(raw).__name__}")


_TEXT = frozenset({str, type(None)})
_INFO = frozenset({dict, type(None)})
_LIST = frozenset({list, type(None)})
_CANONICAL_SCENARIOS = {s: s for s in ("0.5", "1.0", "1.5", "2.0", "2.5", "3.0")}


def _json_safe_number(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class DatasetStatistic:
    """One row of ``getDatasetStatistics``: one dataset under one warming scenario at one cell.

    ``latitude``/``longitude`` are the grid cell's, not the input point. ``values`` holds
    the 101 percentiles (index i = cumulative probability i %), converted to floats on first
    use. Fields that were not requested are ``None``.
    """

    dataset_id: int
    warming_scenario: str
    name: str | None = None
    unit: str | None = None
    low_value: float | None = None
    mid_value: float | None = None
    high_value: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    map_category: str | None = None
    info: Mapping[str, Any] | None = None
    values: Sequence[float] | None = None
    cumulative_probability: Sequence[float] | None = None

    @classmethod
    def from_graphql(cls, row: Any) -> DatasetStatistic:
        """Parse one ``DatasetStatisticsResponse`` object.

        A fast path handles well-formed rows; anything it does not accept goes through
        the checked path, which names the field at fault.
        """
        try:
            get = row.get
            dataset_id = get("datasetId")
            scenario = _CANONICAL_SCENARIOS[get("warmingScenario")]
            name, unit, category = get("name"), get("unit"), get("mapCategory")
            low, mid, high = get("lowValue"), get("midValue"), get("highValue")
            latitude, longitude = get("latitude"), get("longitude")
            info, values, probability = get("info"), get("values"), get("cumulativeProbability")
            if (
                type(dataset_id) is not int
                or type(name) not in _TEXT
                or type(unit) not in _TEXT
                or type(category) not in _TEXT
                or type(info) not in _INFO
                or type(values) not in _LIST
                or type(probability) not in _LIST
                or bool in (type(low), type(mid), type(high), type(latitude), type(longitude))
            ):
                raise TypeError
            return cls(
                dataset_id,
                scenario,
                name,
                unit,
                None if low is None else float(low),
                None if mid is None else float(mid),
                None if high is None else float(high),
                None if latitude is None else float(latitude),
                None if longitude is None else float(longitude),
                category,
                info,
                None if values is None else Percentiles(values),
                None if probability is None else Percentiles(probability, field="cumulativeProbability"),
            )
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            return cls._checked(row)

    @classmethod
    def _checked(cls, row: Any) -> DatasetStatistic:
        if not isinstance(row, dict):
            raise InvalidResponseError(f"a statistics row should be an object, got {type(row).__name__}")
        get = row.get
        dataset_id = get("datasetId")
        if (
            isinstance(dataset_id, bool)
            or not isinstance(dataset_id, (int, float, str))
            or (isinstance(dataset_id, float) and not dataset_id.is_integer())  # 40101.5, inf, nan
        ):
            raise InvalidResponseError(f"datasetId should be an integer, got {dataset_id!r:.80}")
        try:
            dataset_id = int(dataset_id)
        except ValueError:
            raise InvalidResponseError(f"datasetId should be an integer, got {dataset_id!r}") from None
        scenario = get("warmingScenario")
        if scenario is None:
            raise InvalidResponseError("a statistics row has no warmingScenario")
        info = get("info")
        if info is not None and not isinstance(info, dict):
            raise InvalidResponseError(f"info should be an object, got {type(info).__name__}")
        return cls(
            dataset_id=dataset_id,
            warming_scenario=_scenario_text(scenario),
            name=_text(get("name"), "name"),
            unit=_text(get("unit"), "unit"),
            low_value=_number(get("lowValue"), "lowValue"),
            mid_value=_number(get("midValue"), "midValue"),
            high_value=_number(get("highValue"), "highValue"),
            latitude=_number(get("latitude"), "latitude"),
            longitude=_number(get("longitude"), "longitude"),
            map_category=_text(get("mapCategory"), "mapCategory"),
            info=info,
            values=_numbers(get("values"), "values"),
            cumulative_probability=_numbers(get("cumulativeProbability"), "cumulativeProbability"),
        )

    @property
    def climate_zone_name(self) -> str | None:
        """The climate-zone name the server put in ``info``, if any."""
        return self.info.get("climateZoneName") if self.info else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data: tuples become lists and non-finite numbers become ``None``."""
        return {
            "dataset_id": self.dataset_id,
            "name": self.name,
            "unit": self.unit,
            "warming_scenario": self.warming_scenario,
            "low_value": _json_safe_number(self.low_value),
            "mid_value": _json_safe_number(self.mid_value),
            "high_value": _json_safe_number(self.high_value),
            "latitude": _json_safe_number(self.latitude),
            "longitude": _json_safe_number(self.longitude),
            "map_category": self.map_category,
            "info": dict(self.info) if self.info is not None else None,
            "values": [_json_safe_number(v) for v in self.values] if self.values is not None else None,
            "cumulative_probability": (
                [_json_safe_number(v) for v in self.cumulative_probability]
                if self.cumulative_probability is not None
                else None
            ),
        }


def _scenario_text(raw: Any) -> str:
    """The server's scenario as the canonical "1.5" text, whatever number format it used."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise InvalidResponseError(f"warmingScenario should be text like '1.5', got {raw!r}")
    try:
        return f"{float(raw):.1f}"
    except ValueError:
        raise InvalidResponseError(f"warmingScenario should be a number like '1.5', got {raw!r:.40}") from None


def parse_statistics_payload(payload: Any, *, where: str = "getDatasetStatistics") -> list[DatasetStatistic]:
    """Rows from one ``getDatasetStatistics`` field's value."""
    if payload is None:
        return []
    if not isinstance(payload, dict):
        raise InvalidResponseError(f"{where} should be an object, got {type(payload).__name__}")
    rows = payload.get("datasetStatisticsResponses")
    if rows is None:
        if "datasetStatisticsResponses" not in payload:
            raise InvalidResponseError(f"{where} has no datasetStatisticsResponses member")
        return []
    if not isinstance(rows, list):
        raise InvalidResponseError(f"{where}.datasetStatisticsResponses should be a list")
    return [DatasetStatistic.from_graphql(row) for row in rows]
