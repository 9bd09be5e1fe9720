"""Where extracted rows go: JSONL or CSV files written so a killed run can resume.

Crash safety comes from a checkpoint file beside the output. After each batch the rows
(and rejects) are flushed and synced first, then one line naming the batch's sites and
the files' new lengths is appended to the checkpoint. On resume the output is cut back to
the last length the checkpoint recorded, so a batch that was half written when the
process died is dropped and fetched again: every row lands exactly once.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ConfigurationError, InvalidInputError, ProbableFuturesError
from .models import DatasetStatistic

ROW_FIELDS: tuple[str, ...] = (
    "site_id",
    "dataset_id",
    "warming_scenario",
    "name",
    "unit",
    "map_category",
    "latitude",
    "longitude",
    "low_value",
    "mid_value",
    "high_value",
    "label",
)
PERCENTILE_COLUMNS: tuple[str, ...] = tuple(f"p{i}" for i in range(101))
FORMATS = ("jsonl", "csv", "parquet")
CHECKPOINT_VERSION = 1


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def statistic_row(site_id: str, stat: DatasetStatistic, include_values: bool) -> dict[str, Any]:
    """One long-format, JSON-safe row: a site under one dataset and one scenario."""
    row: dict[str, Any] = {
        "site_id": site_id,
        "dataset_id": stat.dataset_id,
        "warming_scenario": stat.warming_scenario,
        "name": stat.name,
        "unit": stat.unit,
        "map_category": stat.map_category,
        "latitude": stat.latitude,
        "longitude": stat.longitude,
        "low_value": _finite(stat.low_value),
        "mid_value": _finite(stat.mid_value),
        "high_value": _finite(stat.high_value),
        "label": stat.climate_zone_name,
    }
    if include_values:
        row["values"] = [_finite(v) for v in stat.values] if stat.values is not None else None
    return row


def output_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise InvalidInputError(f"output format {fmt!r} is not supported; choose among {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "parquet"):
        return suffix
    raise InvalidInputError(
        f"cannot tell the output format of {path.name!r}; end the name in .jsonl, .csv or .parquet, or pass format="
    )


class RowFile:
    """An append-only file of rows, written in whole batches as bytes (so offsets are exact)."""

    def __init__(self, path: Path, fmt: str, include_values: bool):
        self.path = path
        self.format = fmt
        self.include_values = include_values
        self._handle: BinaryIO | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return ROW_FIELDS + (PERCENTILE_COLUMNS if self.include_values else ())

    def open(self, offset: int | None) -> int:
        """Open for appending; ``None`` starts afresh. Returns the length after any header."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if offset is None:
            self._handle = self.path.open("wb")
            if self.format == "csv":
                self._handle.write(self._encode_csv([], header=True))
        else:
            self._handle = self.path.open("r+b")
            self._handle.truncate(offset)
            self._handle.seek(offset)
        self._handle.flush()
        return self._handle.tell()

    def _encode_csv(self, rows: Iterable[Mapping[str, Any]], header: bool = False) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if header:
            writer.writerow(self.columns)
        for row in rows:
            line = [row.get(name) for name in ROW_FIELDS]
            if self.include_values:
                values = row.get("values") or [None] * 101
                line.extend(values)
            writer.writerow(["" if v is None else v for v in line])
        return buffer.getvalue().encode("utf-8")

    def write(self, rows: list[dict[str, Any]]) -> None:
        assert self._handle is not None
        if not rows:
            return
        if self.format == "csv":
            self._handle.write(self._encode_csv(rows))
        else:
            dumps = json.dumps
            self._handle.write(
                "".join(dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows).encode("utf-8")
            )

    def sync(self) -> int:
        """Flush to disk and return the file's length."""
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return self._handle.tell()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class RejectsFile(RowFile):
    """Sites that produced no rows, one JSON object per line with the reason."""

    def __init__(self, path: Path):
        super().__init__(path, "jsonl", include_values=False)


@dataclass
class ResumeState:
    out_offset: int | None = None
    rejects_offset: int | None = None
    done: set[str] = field(default_factory=set)


class Checkpoint:
    """The journal of committed batches beside an output file."""

    def __init__(self, path: Path, settings: dict[str, Any]):
        self.path = path
        self.settings = settings
        self._handle: BinaryIO | None = None

    def load(self, output: Path, rejects: Path) -> ResumeState:
        """What an earlier run with the same settings already committed."""
        if not self.path.exists():
            if output.exists() and output.stat().st_size > 0:
                raise InvalidInputError(
                    f"{output} already exists but has no checkpoint ({self.path.name}), so pf-provider cannot "
                    "tell which sites it holds; pass resume=False to overwrite it, or choose another path"
                )
            return ResumeState()
        state = ResumeState()
        with self.path.open("rb") as handle:
            lines = handle.read().split(b"\n")
        header = _json_line(lines[0]) if lines else None
        if not isinstance(header, dict) or header.get("version") != CHECKPOINT_VERSION:
            raise InvalidInputError(f"{self.path} is not a pf-provider checkpoint; remove it or pass resume=False")
        if header.get("settings") != self.settings:
            raise InvalidInputError(
                f"{output} was started with other settings ({_difference(header.get('settings'), self.settings)}); "
                "use another output path, or pass resume=False to start it again"
            )
        state.out_offset = header.get("out")
        state.rejects_offset = header.get("rejects")
        for raw in lines[1:]:
            entry = _json_line(raw)
            if not isinstance(entry, dict):
                break  # the line being written when the process died
            state.out_offset = entry["out"]
            state.rejects_offset = entry["rejects"]
            state.done.update(entry["sites"])
        if not output.exists() or output.stat().st_size < (state.out_offset or 0):
            raise InvalidInputError(
                f"{output} is shorter than its checkpoint says; it was changed outside pf-provider. "
                "Pass resume=False to start again"
            )
        if state.rejects_offset and (not rejects.exists() or rejects.stat().st_size < state.rejects_offset):
            state.rejects_offset = None
        return state

    def start(self, out_offset: int, rejects_offset: int) -> None:
        """Begin a fresh checkpoint recording where the data starts (after a CSV header)."""
        self._handle = self.path.open("wb")
        self._append(
            {"version": CHECKPOINT_VERSION, "settings": self.settings, "out": out_offset, "rejects": rejects_offset}
        )

    def reopen(self) -> None:
        with self.path.open("rb") as handle:
            data = handle.read()
        keep = data.rfind(b"\n") + 1
        self._handle = self.path.open("r+b")
        self._handle.truncate(keep)
        self._handle.seek(keep)

    def commit(self, out_offset: int, rejects_offset: int, site_ids: list[str]) -> None:
        self._append({"out": out_offset, "rejects": rejects_offset, "sites": site_ids})

    def _append(self, entry: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(entry, separators=(",", ":")).encode("utf-8") + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _json_line(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _difference(old: Any, new: dict[str, Any]) -> str:
    if not isinstance(old, dict):
        return "unknown"
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return ", ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in changed) or "unknown"


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL output, one at a time."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_rows(path: str | os.PathLike[str]) -> Any:
    """An output file (JSONL, CSV or Parquet) as a pandas DataFrame (needs the ``pandas`` extra)."""
    try:
        import pandas as pd
    except ImportError:
        raise ProbableFuturesError(
            "reading outputs as DataFrames needs pandas: pip install 'pf-provider[pandas]'"
        ) from None
    path = Path(path)
    fmt = output_format(path, None)
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":
        return pd.read_csv(path, dtype={"site_id": str, "warming_scenario": str})
    return pd.read_json(path, lines=True, dtype={"site_id": str, "warming_scenario": str})


def require_parquet() -> None:
    """Fail before any request when Parquet output is asked for without pyarrow."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise ConfigurationError("Parquet output needs pyarrow: pip install 'pf-provider[pandas]'")


def jsonl_to_parquet(source: Path, target: Path, include_values: bool) -> None:
    """Convert a finished JSONL output to Parquet in bounded memory (record batches)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ProbableFuturesError("Parquet output needs pyarrow: pip install 'pf-provider[pandas]'") from None
    fields = [
        pa.field("site_id", pa.string()),
        pa.field("dataset_id", pa.int64()),
        pa.field("warming_scenario", pa.string()),
        pa.field("name", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("map_category", pa.string()),
        pa.field("latitude", pa.float64()),
        pa.field("longitude", pa.float64()),
        pa.field("low_value", pa.float64()),
        pa.field("mid_value", pa.float64()),
        pa.field("high_value", pa.float64()),
        pa.field("label", pa.string()),
    ]
    if include_values:
        fields.append(pa.field("values", pa.list_(pa.float64())))
    schema = pa.schema(fields)
    tmp = target.with_name(target.name + ".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in iter_jsonl(source):
            batch.append(row)
            if len(batch) >= 10_000:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
    os.replace(tmp, target)
