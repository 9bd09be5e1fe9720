"""The 30 published Probable Futures maps, from the copy of the catalog this package ships.

The package carries its own ``data/datasets.json`` so it works without network access or
the project's reference folder. A dataset newer than this copy can still be requested:
pass ``allow_unknown_datasets=True`` to the client (see ``docs/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

WARMING_SCENARIOS: tuple[str, ...] = ("0.5", "1.0", "1.5", "2.0", "2.5", "3.0")
"""The warming scenarios the API serves, in degrees Celsius above pre-industrial, as the
strings the server expects."""

MAP_CATEGORIES: tuple[str, ...] = ("heat", "water", "land", "other")

CLIMATE_ZONES_DATASET_ID = 40901


@dataclass(frozen=True)
class Dataset:
    """One published map: its id, names, unit and the range its values fall in."""

    dataset_id: int
    map_name: str
    slug: str
    map_version: int
    unit: str
    unit_long: str
    category: str
    sub_category: str | None
    min_value: float
    max_value: float
    is_diff: bool
    data_variables: tuple[str, ...]
    data_labels: tuple[str, ...]
    bin_labels: tuple[str, ...] | None
    description: str

    @property
    def is_classified(self) -> bool:
        """True for maps whose values are classes with names (climate zones, water balance)."""
        return self.bin_labels is not None

    def to_dict(self) -> dict:
        return {
            "dataset_id": self.dataset_id,
            "map_name": self.map_name,
            "slug": self.slug,
            "map_version": self.map_version,
            "unit": self.unit,
            "unit_long": self.unit_long,
            "category": self.category,
            "sub_category": self.sub_category,
            "min_value": self.min_value,
            "max_value": self.max_value,
            "is_diff": self.is_diff,
            "data_variables": list(self.data_variables),
            "data_labels": list(self.data_labels),
            "bin_labels": list(self.bin_labels) if self.bin_labels is not None else None,
            "description": self.description,
        }


def _from_json(raw: dict) -> Dataset:
    return Dataset(
        dataset_id=int(raw["dataset_id"]),
        map_name=raw["map_name"],
        slug=raw["slug"],
        map_version=int(raw["map_version"]),
        unit=raw["unit"],
        unit_long=raw["unit_long"],
        category=raw["category"],
        sub_category=raw.get("sub_category"),
        min_value=float(raw["min_value"]),
        max_value=float(raw["max_value"]),
        is_diff=bool(raw["is_diff"]),
        data_variables=tuple(raw["data_variables"]),
        data_labels=tuple(raw["data_labels"]),
        bin_labels=tuple(raw["bin_labels"]) if raw.get("bin_labels") else None,
        description=raw["description"],
    )


@lru_cache(maxsize=1)
def _load() -> dict[int, Dataset]:
    text = resources.files("pf_provider").joinpath("data/datasets.json").read_text(encoding="utf-8")
    return {d.dataset_id: d for d in map(_from_json, json.loads(text))}


def all_datasets() -> tuple[Dataset, ...]:
    """Every published dataset, ordered by id."""
    return tuple(sorted(_load().values(), key=lambda d: d.dataset_id))


def dataset_ids() -> tuple[int, ...]:
    return tuple(d.dataset_id for d in all_datasets())


def get_dataset(dataset_id: int) -> Dataset:
    """The dataset with this id; ``KeyError`` names the valid ids when it is unknown."""
    try:
        return _load()[dataset_id]
    except KeyError:
        raise KeyError(f"unknown dataset id {dataset_id!r}; known ids: {', '.join(map(str, dataset_ids()))}") from None


def find_dataset(dataset_id: int) -> Dataset | None:
    return _load().get(dataset_id)


def get_dataset_by_slug(slug: str) -> Dataset:
    for dataset in _load().values():
        if dataset.slug == slug:
            return dataset
    raise KeyError(f"unknown dataset slug {slug!r}")


def climate_zone_name(class_value: float) -> str | None:
    """The climate-zone label of a class value of dataset 40901 (1-based), if any."""
    labels = get_dataset(CLIMATE_ZONES_DATASET_ID).bin_labels or ()
    index = round(class_value) - 1
    return labels[index] if 0 <= index < len(labels) else None
