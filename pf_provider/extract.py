"""Bulk extraction: thousands of sites within the API's rate limit, resumable.

The limit is on HTTP requests (100 a minute), not on sites, so sites are packed into
batched requests (one GraphQL operation per site and dataset, ``batch_size`` operations
per request). The client paces requests and waits out 429s; a few requests are in flight
at once (``concurrency``); batches are written in input order as they complete, so an
interrupted and resumed run produces the same file as an uninterrupted one. Memory holds
only the batches in flight, whatever the number of sites.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ProbableFuturesClient, StatisticsQuery, StatisticsResult
from .errors import InvalidInputError, InvalidResponseError
from .models import SUMMARY_FIELDS, normalize_fields
from .output import (
    ROW_FIELDS,
    Checkpoint,
    RejectsFile,
    RowFile,
    jsonl_to_parquet,
    output_format,
    require_parquet,
    statistic_row,
)
from .progress import Progress
from .sites import Rejection, Site, count_sites, read_sites
from .transport import count_requests
from .validation import normalize_dataset_ids, normalize_scenarios

__all__ = [
    "ROW_FIELDS",
    "ExtractionSummary",
    "Rejection",
    "Site",
    "extract",
    "iter_rows",
    "read_sites",
]

logger = logging.getLogger("pf_provider.extract")

DEFAULT_BATCH_SIZE = 50
MAX_CONCURRENCY = 16


@dataclass(frozen=True)
class _Plan:
    """What to ask for each site; checked once, before any request."""

    datasets: tuple[int, ...] | None
    scenarios: tuple[str, ...] | None
    include_values: bool
    fields: tuple[str, ...]
    batch_size: int

    def queries(self, site: Site) -> list[StatisticsQuery]:
        return [StatisticsQuery(site.location, self.scenarios, d, self.fields) for d in (self.datasets or (None,))]

    def settings(self, fmt: str) -> dict[str, Any]:
        return {
            "format": fmt,
            "datasets": list(self.datasets) if self.datasets else None,
            "scenarios": list(self.scenarios) if self.scenarios else None,
            "include_values": self.include_values,
        }


def _plan(client: ProbableFuturesClient, datasets: Any, scenarios: Any, include_values: bool, batch_size: int) -> _Plan:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or not 1 <= batch_size <= 500:
        raise InvalidInputError(f"batch_size must be an integer from 1 to 500, got {batch_size!r}")
    fields = normalize_fields(SUMMARY_FIELDS + (("values",) if include_values else ()))
    return _Plan(
        datasets=normalize_dataset_ids(datasets, allow_unknown=client.allow_unknown_datasets),
        scenarios=normalize_scenarios(scenarios),
        include_values=bool(include_values),
        fields=fields,
        batch_size=batch_size,
    )


@dataclass
class _Batch:
    """Consecutive input items: sites to fetch and sites rejected before any request."""

    sites: list[Site] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    operations: int = 0


@dataclass
class _BatchResult:
    rows: list[dict[str, Any]]
    rejected: list[Rejection]
    fetched: list[str]
    requests: int = 0


def _batches(
    items: Iterable[Site | Rejection], plan: _Plan, done: set[str], progress: Progress | None
) -> Iterator[_Batch]:
    """Group input into batches of at most ``batch_size`` operations, skipping done sites."""
    seen: set[str] = set()
    per_site = len(plan.datasets) if plan.datasets else 1
    batch = _Batch()
    for item in items:
        if isinstance(item, Rejection):
            if _key(item) in done:
                if progress:
                    progress.skip()
                continue
            if item.site_id is not None:
                seen.add(item.site_id)
            batch.rejected.append(item)
            continue
        if item.site_id in done:
            seen.add(item.site_id)
            if progress:
                progress.skip()
            continue
        if item.site_id in seen:
            batch.rejected.append(
                Rejection(item.site_id, f"site {item.site_id!r} appears more than once; site ids must be unique")
            )
            continue
        seen.add(item.site_id)
        if batch.sites and batch.operations + per_site > plan.batch_size:
            yield batch
            batch = _Batch()
        batch.sites.append(item)
        batch.operations += per_site
    if batch.sites or batch.rejected:
        yield batch


def _key(rejection: Rejection) -> str:
    """How the checkpoint names a rejected input: its site id, or its reason (which names its line)."""
    return rejection.site_id if rejection.site_id is not None else rejection.reason


def _fetch(client: ProbableFuturesClient, plan: _Plan, batch: _Batch) -> _BatchResult:
    queries: list[StatisticsQuery] = []
    owners: list[Site] = []
    for site in batch.sites:
        for query in plan.queries(site):
            queries.append(query)
            owners.append(site)
    with count_requests() as sent:
        results = client.fetch_statistics(queries) if queries else []
    assembled = _assemble(batch, owners, results, plan.include_values)
    assembled.requests = sent.value
    return assembled


def _assemble(batch: _Batch, owners: list[Site], results: list[StatisticsResult], include_values: bool) -> _BatchResult:
    """Rows per site; a site with any failed operation is rejected whole (no partial rows)."""
    by_site: dict[str, list[StatisticsResult]] = {}
    for site, result in zip(owners, results, strict=True):
        by_site.setdefault(site.site_id, []).append(result)
    rows: list[dict[str, Any]] = []
    rejected = list(batch.rejected)
    fetched: list[str] = []
    for site in batch.sites:
        site_results = by_site[site.site_id]
        errors = [r.error for r in site_results if r.error is not None]
        if not errors:
            try:
                site_rows = [statistic_row(site.site_id, s, include_values) for r in site_results for s in r.rows]
            except InvalidResponseError as exc:  # percentiles are parsed when first read: here
                errors = [exc]
        if errors:
            rejected.append(Rejection(site.site_id, f"the server rejected the site: {errors[0]}", site.to_dict()))
            continue
        rows.extend(site_rows)
        fetched.append(site.site_id)
    return _BatchResult(rows, rejected, fetched)


def iter_rows(
    client: ProbableFuturesClient,
    sites: str | os.PathLike[str] | Iterable[Any],
    *,
    datasets: Any = None,
    scenarios: Any = None,
    include_values: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_reject: Callable[[Rejection], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Long-format rows (keys :data:`ROW_FIELDS`) for every site, streamed batch by batch.

    ``on_reject`` receives each site that produced no rows; without it the first
    rejection raises :class:`InvalidInputError` (after the rows before it were yielded).
    """
    plan = _plan(client, datasets, scenarios, include_values, batch_size)
    for batch in _batches(read_sites(sites), plan, set(), None):
        result = _fetch(client, plan, batch)
        yield from result.rows
        for rejection in result.rejected:
            if on_reject is None:
                raise InvalidInputError(rejection.reason)
            on_reject(rejection)


@dataclass(frozen=True)
class ExtractionSummary:
    """What an :func:`extract` run did. JSON-safe through :meth:`to_dict`."""

    output: str
    rejects: str
    total_sites: int | None
    fetched_sites: int
    skipped_sites: int
    rejected_sites: int
    rows_written: int
    requests: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "rejects": self.rejects,
            "total_sites": self.total_sites,
            "fetched_sites": self.fetched_sites,
            "skipped_sites": self.skipped_sites,
            "rejected_sites": self.rejected_sites,
            "rows_written": self.rows_written,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }


def extract(
    client: ProbableFuturesClient,
    sites: str | os.PathLike[str] | Iterable[Any],
    out: str | os.PathLike[str],
    *,
    datasets: Any = None,
    scenarios: Any = None,
    include_values: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = 2,
    rejects: str | os.PathLike[str] | None = None,
    resume: bool = True,
    progress_interval: float = 10.0,
    format: str | None = None,
) -> ExtractionSummary:
    """Fetch statistics for every site into ``out`` (JSONL, CSV or Parquet), resumably.

    Started again with the same ``out`` after any interruption, it fetches only the sites
    still missing (``resume=False`` starts over). Sites whose input is invalid or that the
    server rejects go to ``rejects`` (default ``<out>.rejects.jsonl``) with the reason.
    A checkpoint ``<out>.checkpoint`` records progress; keep it to make reruns no-ops.
    """
    started = time.monotonic()
    plan = _plan(client, datasets, scenarios, include_values, batch_size)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInputError(f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {concurrency!r}")
    target = Path(out)
    fmt = output_format(target, format)
    if fmt == "parquet":
        require_parquet()
    # Parquet cannot be appended to: rows stream into a JSONL staging file, converted at the end.
    data_path = target.with_name(target.name + ".staging.jsonl") if fmt == "parquet" else target
    rejects_path = Path(rejects) if rejects is not None else target.with_name(target.name + ".rejects.jsonl")
    checkpoint = Checkpoint(target.with_name(target.name + ".checkpoint"), plan.settings(fmt))
    items = read_sites(sites)
    first = next(items, None)  # a missing file or a bad header fails here, before any request

    state = checkpoint.load(data_path, rejects_path) if resume else None
    rows_file = RowFile(data_path, "jsonl" if fmt == "parquet" else fmt, plan.include_values)
    rejects_file = RejectsFile(rejects_path)
    fresh = state is None or state.out_offset is None
    out_offset = rows_file.open(None if fresh else state.out_offset)
    rejects_offset = rejects_file.open(None if fresh or not state.rejects_offset else state.rejects_offset)
    if fresh:
        checkpoint.start(out_offset, rejects_offset)
    else:
        checkpoint.reopen()
    done = state.done if state is not None else set()

    progress = Progress(count_sites(sites), logger=logger, interval=progress_interval)
    counts = {"fetched": 0, "rejected": 0, "rows": 0, "requests": 0}
    if done:
        logger.info("Resuming %s: %d sites already done", target, len(done))

    def all_items() -> Iterator[Site | Rejection]:
        if first is not None:
            yield first
            yield from items

    def write(result: _BatchResult) -> None:
        rows_file.write(result.rows)
        rejects_file.write([r.to_dict() for r in result.rejected])
        checkpoint.commit(
            rows_file.sync(),
            rejects_file.sync(),
            result.fetched + [_key(r) for r in result.rejected],
        )
        counts["fetched"] += len(result.fetched)
        counts["rejected"] += len(result.rejected)
        counts["rows"] += len(result.rows)
        counts["requests"] += result.requests
        for rejection in result.rejected:
            logger.warning("Rejected %s", rejection.reason)
        progress.advance(len(result.fetched) + len(result.rejected))

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pf-extract") as pool:
            in_flight: deque[Future[_BatchResult]] = deque()
            try:
                for batch in _batches(all_items(), plan, done, progress):
                    # Each batch runs in a copy of the caller's context, so the orchestrator's
                    # log routing (Prefect's run logger, Airflow's task context) follows it.
                    context = contextvars.copy_context()
                    in_flight.append(pool.submit(context.run, _fetch, client, plan, batch))
                    while len(in_flight) > concurrency:
                        write(in_flight.popleft().result())
                while in_flight:
                    write(in_flight.popleft().result())
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
    finally:
        rows_file.close()
        rejects_file.close()
        checkpoint.close()
    progress.close()
    if fmt == "parquet":
        jsonl_to_parquet(data_path, target, plan.include_values)
    return ExtractionSummary(
        output=str(target),
        rejects=str(rejects_path),
        total_sites=progress.total,
        fetched_sites=counts["fetched"],
        skipped_sites=progress.skipped,
        rejected_sites=counts["rejected"],
        rows_written=counts["rows"],
        requests=counts["requests"],
        seconds=time.monotonic() - started,
    )
