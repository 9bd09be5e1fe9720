"""Monthly climate statistics for a portfolio of sites, as a Prefect 3 flow.

The same pipeline as the Airflow example: read the sites CSV, fetch the statistics of a
few datasets in shards (``extract_statistics.map``), write one output folder per
scheduled run, and summarise which sites cross a threshold.

    <output_dir>/portfolio/<scheduled date>/statistics.jsonl   one row per site, dataset, scenario
    <output_dir>/portfolio/<scheduled date>/rejects.jsonl      sites that produced no rows, and why
    <output_dir>/portfolio/<scheduled date>/summary.json       per site, the datasets reaching a threshold

The folder is named after the flow run's scheduled start (UTC), so a rerun of a month
overwrites that month. A retried shard resumes where it stopped (the engine's checkpoint).

Shards run on the flow's task runner: threads by default, Dask workers with
``--dask-workers N`` or ``--dask-address tcp://scheduler:8786``. Every request of every
worker first takes a slot of the Prefect global rate limit ``probable-futures-api``, so
the fleet stays under the API's 100 requests a minute (create it once with
``python portfolio_flow.py setup`` or ``prefect gcl create probable-futures-api --limit 50
--slot-decay-per-second 0.833333``).

Run it:
    python portfolio_flow.py setup                      # the global rate limit
    python portfolio_flow.py run --output-dir output    # one run now
    python portfolio_flow.py serve                      # serve with the monthly cron schedule
    python portfolio_flow.py deploy --pool my-pool      # deploy to a work pool
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.task_runners import TaskRunner

from pf_provider.errors import InvalidInputError
from pf_provider.extract import Rejection, read_sites
from pf_provider.prefect import ProbableFuturesCredentials
from pf_provider.prefect.rate_limit import DEFAULT_RATE_LIMIT_NAME, ensure_rate_limit
from pf_provider.prefect.tasks import extract_statistics

SITES_CSV = Path(__file__).resolve().parents[1] / "data" / "portfolio_sites.csv"
CREDENTIALS_BLOCK = "probable-futures"
MONTHLY_CRON = "0 6 1 * *"
"""06:00 UTC on the first day of every month."""

# The datasets the risk team tracks, and the mid value (median/average year) that flags a
# site: the same as the Airflow example (dags_examples/pf_portfolio_monthly.py).
THRESHOLDS: dict[str, float] = {
    "40104": 30.0,  # Days above 32°C (90°F): a month or more of very hot days a year
    "40301": 10.0,  # Days above 26°C (78°F) wet-bulb: outdoor work becomes dangerous
    "40702": 25.0,  # Likelihood of year-plus drought (%)
    "40704": 10.0,  # Change in wildfire danger days (days a year more than 1972-2000)
}
DATASETS: tuple[int, ...] = tuple(int(d) for d in THRESHOLDS)
SCENARIOS: tuple[str, ...] = ("1.5", "2.0", "3.0")


def scheduled_date() -> date:
    """The UTC date of the flow run's scheduled start (today's date outside a flow run)."""
    moment: datetime = flow_run.scheduled_start_time
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return date(moment.year, moment.month, moment.day)


def split(items: Sequence[Any], shards: int) -> list[list[Any]]:
    """At most ``shards`` contiguous, non-empty slices of about equal size, in order."""
    size = max(1, math.ceil(len(items) / shards))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records atomically (temporary file, then rename): readers never see half a file."""
    partial = path.with_name(path.name + ".partial")
    count = 0
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    os.replace(partial, path)
    return count


def crossings(rows: Iterable[dict[str, Any]], thresholds: dict[str, float]) -> dict[str, list[dict[str, Any]]]:
    """Per site, every dataset and scenario whose mid value reaches the dataset's threshold."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        limit = thresholds.get(str(row["dataset_id"]))
        mid = row.get("mid_value")
        if limit is None or mid is None or mid < limit:
            continue
        found.setdefault(row["site_id"], []).append(
            {
                "dataset_id": row["dataset_id"],
                "name": row.get("name"),
                "warming_scenario": row["warming_scenario"],
                "mid_value": mid,
                "unit": row.get("unit"),
                "threshold": limit,
            }
        )
    return dict(sorted(found.items()))


def _markdown(run_date: date, found: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        f"# Portfolio climate summary, {run_date.isoformat()}",
        "",
        "| Site | Threshold reached |",
        "| --- | --- |",
    ]
    for site_id, items in found.items():
        text = ", ".join(f"{c['name']} at +{c['warming_scenario']}°C ({c['mid_value']:g} {c['unit']})" for c in items)
        lines.append(f"| {site_id} | {text} |")
    if not found:
        lines.append("| (none) | |")
    return "\n".join(lines) + "\n"


@flow(name="pf-portfolio-statistics", log_prints=False)
def portfolio_flow(
    sites_csv: str = str(SITES_CSV),
    output_dir: str = "output",
    credentials_block: str = CREDENTIALS_BLOCK,
    datasets: list[int] | None = None,
    scenarios: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
    shards: int = 4,
    batch_size: int = 25,
    global_rate_limit: str | None = DEFAULT_RATE_LIMIT_NAME,
    run_date: date | None = None,
) -> dict[str, Any]:
    """Fetch the portfolio's statistics in shards and summarise them; returns counts and paths.

    ``datasets`` and ``scenarios`` default to :data:`DATASETS` and :data:`SCENARIOS`.
    ``credentials_block`` names a saved Probable Futures Credentials block; each shard loads
    it where it runs, so the secret never travels through the task runner. ``run_date``
    overrides the scheduled date (backfills). ``global_rate_limit=None`` leaves pacing to
    each process (one machine, one process only).
    """
    logger = get_run_logger()
    if not isinstance(shards, int) or isinstance(shards, bool) or shards < 1:
        raise InvalidInputError(f"shards must be a positive integer, got {shards!r}")
    thresholds = dict(THRESHOLDS if thresholds is None else thresholds)
    day = run_date or scheduled_date()
    run_dir = Path(output_dir) / "portfolio" / day.isoformat()
    shard_dir = run_dir / f".shards-{flow_run.id or 'local'}"
    shard_dir.mkdir(parents=True, exist_ok=True)

    # Fail fast, before any shard starts: the block must exist (loading sends nothing to the API).
    ProbableFuturesCredentials.load(credentials_block)

    sites: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for item in read_sites(sites_csv):
        if isinstance(item, Rejection):
            rejected.append(item.to_dict())
        else:
            sites.append(item.to_dict())
    parts = split(sites, shards)
    outs = [str(shard_dir / f"shard-{i:03d}.jsonl") for i in range(len(parts))]
    logger.info("%d sites in %d shards (%d rejected on input) for %s", len(sites), len(parts), len(rejected), day)

    futures = extract_statistics.map(
        unmapped(credentials_block),
        parts,
        outs,
        datasets=unmapped(list(DATASETS if datasets is None else datasets)),
        scenarios=unmapped(list(SCENARIOS if scenarios is None else scenarios)),
        batch_size=batch_size,
        concurrency=1,
        global_rate_limit=global_rate_limit,
    )
    shard_summaries = [future.result() for future in futures]

    statistics_path = run_dir / "statistics.jsonl"
    rows = _write_jsonl(statistics_path, (row for out in outs for row in _jsonl(Path(out))))
    rejected.extend(r for s in shard_summaries for r in _jsonl(Path(s["rejects"])))
    _write_jsonl(run_dir / "rejects.jsonl", rejected)
    found = crossings(_jsonl(statistics_path), thresholds)
    summary = {
        "run_date": day.isoformat(),
        "output": str(statistics_path),
        "rows": rows,
        "sites": len(sites),
        "fetched_sites": sum(s["fetched_sites"] for s in shard_summaries),
        "rejected_sites": len(rejected),
        "sites_with_crossings": len(found),
        "crossings": found,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(shard_dir, ignore_errors=True)
    create_markdown_artifact(
        key="pf-portfolio-summary",
        markdown=_markdown(day, found),
        description="Sites whose mid values reach a threshold",
    )
    logger.info(
        "Wrote %d rows for %d sites to %s; %d sites reach a threshold, %d rejected",
        rows,
        summary["fetched_sites"],
        statistics_path,
        len(found),
        len(rejected),
    )
    return summary


def dask_task_runner(n_workers: int = 2, address: str | None = None) -> TaskRunner:
    """A Dask task runner: a scheduler at ``address``, or a local cluster of worker processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 2, "processes": True, "dashboard_address": None},
    )


def _dask_flow() -> Any:
    """The flow on Dask, for deployments (entrypoint ``portfolio_flow.py:portfolio_flow_dask``).

    ``PF_DASK_ADDRESS`` points it at a running scheduler; otherwise each run starts a local
    cluster of ``PF_DASK_WORKERS`` (default 2) worker processes.
    """
    try:
        runner = dask_task_runner(int(os.environ.get("PF_DASK_WORKERS") or 2), os.environ.get("PF_DASK_ADDRESS"))
    except ImportError:  # prefect-dask is optional
        return None
    return portfolio_flow.with_options(name="pf-portfolio-statistics-dask", task_runner=runner)


portfolio_flow_dask = _dask_flow()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup", "run", "serve", "deploy"])
    parser.add_argument("--output-dir", default=os.environ.get("PF_OUTPUT_DIR", "output"))
    parser.add_argument("--block", default=CREDENTIALS_BLOCK, help="name of the saved credentials block")
    parser.add_argument("--dask-workers", type=int, default=0, help="run shards on a local Dask cluster")
    parser.add_argument("--dask-address", default=None, help="run shards on an existing Dask scheduler")
    parser.add_argument("--pool", default=None, help="work pool for `deploy`")
    args = parser.parse_args(argv)

    if args.command == "setup":
        print(f"Global rate limit ready: {ensure_rate_limit()}")
        return
    target = portfolio_flow
    if args.dask_workers or args.dask_address:
        target = portfolio_flow.with_options(task_runner=dask_task_runner(args.dask_workers or 2, args.dask_address))
    parameters = {"output_dir": args.output_dir, "credentials_block": args.block}
    if args.command == "run":
        print(json.dumps(target(**parameters), indent=2))
    elif args.command == "serve":
        target.serve(name="monthly-portfolio", cron=MONTHLY_CRON, parameters=parameters)
    else:
        if not args.pool:
            parser.error("deploy needs --pool (a work pool whose workers can read this folder)")
        dask = bool(args.dask_workers or args.dask_address)
        env = {"PF_DASK_WORKERS": str(args.dask_workers or 2)}
        if args.dask_address:
            env["PF_DASK_ADDRESS"] = args.dask_address
        entrypoint = "portfolio_flow.py:" + ("portfolio_flow_dask" if dask else "portfolio_flow")
        portfolio_flow.from_source(source=str(Path(__file__).parent), entrypoint=entrypoint).deploy(
            name="monthly-portfolio",
            work_pool_name=args.pool,
            cron=MONTHLY_CRON,
            parameters=parameters,
            job_variables={"env": env} if dask else None,
        )


if __name__ == "__main__":
    main()
