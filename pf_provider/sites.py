"""Sites: an id plus a location, read from mappings or a CSV file, checked one by one.

A site that cannot be used becomes a :class:`Rejection` with the reason, so one bad row
of a portfolio never stops the others.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInputError
from .validation import Location, validate_location

ID_COLUMNS = ("site_id", "id")
POINT_COLUMNS = {"latitude": ("latitude", "lat"), "longitude": ("longitude", "lon", "lng")}
PLACE_COLUMNS = ("country", "city", "address")


@dataclass(frozen=True)
class Site:
    """A place in a portfolio: the caller's id for it and where it is."""

    site_id: str
    location: Location

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Site:
        """A site from ``site_id`` (or ``id``) and point or place keys; raises :class:`InvalidInputError`."""
        site_id = _site_id(row)
        lookup = {str(k).strip().lower(): v for k, v in row.items() if k is not None}

        def first(names: Iterable[str]) -> Any:
            for name in names:
                value = lookup.get(name)
                if value not in (None, ""):
                    return value
            return None

        try:
            location = validate_location(
                latitude=first(POINT_COLUMNS["latitude"]),
                longitude=first(POINT_COLUMNS["longitude"]),
                country=first(("country",)),
                city=first(("city",)),
                address=first(("address",)),
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"site {site_id!r}: {exc}") from None
        return cls(site_id, location)

    def to_dict(self) -> dict[str, Any]:
        return {"site_id": self.site_id, **self.location.to_input()}


@dataclass(frozen=True)
class Rejection:
    """A site that produced no rows, and why."""

    site_id: str | None
    reason: str
    input: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"site_id": self.site_id, "reason": self.reason, "input": dict(self.input) if self.input else None}


def _site_id(row: Mapping[str, Any]) -> str:
    for name in ID_COLUMNS:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    raise InvalidInputError("the site has no site_id")


def _check_columns(columns: list[str] | None, path: Path) -> None:
    names = {c.strip().lower() for c in columns or [] if c}
    if not names:
        raise InvalidInputError(f"{path} is empty or has no header row; the first row must name the columns")
    if not names & set(ID_COLUMNS):
        raise InvalidInputError(
            f"{path} has no site_id column (columns found: {', '.join(sorted(names))}); "
            "add a site_id column that names each site"
        )
    has_point = all(names & set(aliases) for aliases in POINT_COLUMNS.values())
    if not has_point and not names & set(PLACE_COLUMNS):
        raise InvalidInputError(
            f"{path} has no location columns (columns found: {', '.join(sorted(names))}); "
            "add latitude and longitude, or country/city/address"
        )


def _read_csv(path: Path) -> Iterator[Site | Rejection]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInputError(f"the sites file {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInputError(f"the sites file {path} is a directory") from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            _check_columns(reader.fieldnames, path)
            for line, row in enumerate(reader, start=2):
                yield _site_or_rejection(row, f"line {line}")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
        except csv.Error as exc:
            raise InvalidInputError(f"{path} is not valid CSV: {exc}") from None


def _site_or_rejection(item: Any, where: str) -> Site | Rejection:
    if isinstance(item, (Site, Rejection)):
        return item
    if not isinstance(item, Mapping):
        return Rejection(None, f"{where}: a site must be a mapping with site_id and a location, got {item!r:.80}")
    row = {k: v for k, v in item.items() if k is not None}
    try:
        return Site.from_mapping(row)
    except InvalidInputError as exc:
        site_id = next((str(row[n]).strip() for n in ID_COLUMNS if row.get(n) not in (None, "")), None)
        reason = str(exc) if site_id else f"{where}: {exc}"
        return Rejection(site_id, reason, row)


def read_sites(source: str | os.PathLike[str] | Iterable[Any]) -> Iterator[Site | Rejection]:
    """Sites from a CSV path or an iterable of sites/mappings, lazily, one at a time.

    A file that cannot be read or lacks the needed columns raises :class:`InvalidInputError`
    at once; a row that cannot be used becomes a :class:`Rejection`.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix.lower() not in (".csv", ".txt", ""):
            raise InvalidInputError(f"the sites file {path} should be a CSV file")
        iterator = _read_csv(path)
        first = next(iterator, None)  # fail fast on a missing file or bad header
        if first is not None:
            yield first
            yield from iterator
        return
    if isinstance(source, Mapping):
        raise InvalidInputError("sites must be a list of sites, not a single mapping")
    for index, item in enumerate(source):
        yield _site_or_rejection(item, f"site {index}")


def count_sites(source: str | os.PathLike[str] | Iterable[Any]) -> int | None:
    """How many sites a source holds, when that is cheap to know (for progress and ETA)."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with Path(source).open(newline="", encoding="utf-8-sig") as handle:
                return max(0, sum(1 for _ in csv.reader(handle)) - 1)
        except (OSError, UnicodeDecodeError, csv.Error):
            return None
    try:
        return len(source)  # type: ignore[arg-type]
    except TypeError:
        return None
