"""The example flows end to end on the server and the emulator: threads, Dask, schedules."""

from __future__ import annotations

import csv
import json
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client

SITES_CSV = Path(__file__).resolve().parents[2] / "dags_examples" / "data" / "portfolio_sites.csv"


def expected_site_ids() -> list[str]:
    with SITES_CSV.open(encoding="utf-8") as handle:
        return [row["site_id"] for row in csv.DictReader(handle)]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_run_output(run_dir: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of one run agree with each other, with the CSV and with the flow's thresholds."""
    import portfolio_flow as example

    rows = read_jsonl(run_dir / "statistics.jsonl")
    sites = expected_site_ids()
    per_site = len(example.DATASETS) * len(example.SCENARIOS)
    assert len(rows) == len(sites) * per_site == summary["rows"]
    assert sorted({r["site_id"] for r in rows}) == sorted(sites)
    for site in sites:
        keys = {(r["dataset_id"], r["warming_scenario"]) for r in rows if r["site_id"] == site}
        assert keys == {(d, s) for d in example.DATASETS for s in example.SCENARIOS}, site
    assert read_jsonl(run_dir / "rejects.jsonl") == []
    assert not list(run_dir.glob(".shards-*")), "shard files are cleaned up after the merge"

    written = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert written == summary, "summary.json is what the flow returned"
    # Recomputed here from the rows: which (site, dataset, scenario) reach the thresholds.
    reached = sorted(
        (r["site_id"], r["dataset_id"], r["warming_scenario"])
        for r in rows
        if r["mid_value"] is not None and r["mid_value"] >= example.THRESHOLDS[str(r["dataset_id"])]
    )
    reported = sorted(
        (site, c["dataset_id"], c["warming_scenario"]) for site, items in summary["crossings"].items() for c in items
    )
    assert reported == reached
    assert summary["sites_with_crossings"] == len({site for site, _, _ in reached})
    assert 0 < summary["sites_with_crossings"] < len(sites), "the sample has sites on both sides of the thresholds"
    return rows


def test_portfolio_flow_on_threads(credentials, emulator, tmp_path):
    import portfolio_flow as example

    before = datetime.now(timezone.utc).date()
    summary = example.portfolio_flow(output_dir=str(tmp_path), global_rate_limit=None)
    assert before <= date.fromisoformat(summary["run_date"]) <= datetime.now(timezone.utc).date()
    run_dir = tmp_path / "portfolio" / summary["run_date"]
    assert summary["output"] == str(run_dir / "statistics.jsonl")
    check_run_output(run_dir, summary)
    assert summary["sites"] == summary["fetched_sites"] == len(expected_site_ids())
    assert emulator.stats.rate_limited == 0
    assert emulator.stats.token_requests == 1, "one token for every shard of the process"


def test_scheduled_runs_write_per_scheduled_date_and_reruns_overwrite(credentials, emulator, tmp_path):
    """A deployment with the monthly cron; its runs are keyed by their scheduled start."""
    import portfolio_flow as example
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    deployment = example.portfolio_flow.to_deployment(
        name="monthly-portfolio",
        cron=example.MONTHLY_CRON,
        parameters={"output_dir": str(tmp_path), "global_rate_limit": None},
    )
    deployment_id = deployment.apply()
    scheduled = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
        (schedule,) = stored.schedules
        assert schedule.schedule.cron == "0 6 1 * *"
        flow_run = client.create_flow_run_from_deployment(deployment_id, state=Scheduled(scheduled_time=scheduled))

    summary = run_flow(example.portfolio_flow, flow_run=flow_run, parameters=flow_run.parameters)
    run_dir = tmp_path / "portfolio" / "2026-11-01"
    assert summary["run_date"] == "2026-11-01"
    first = check_run_output(run_dir, summary)

    with get_client(sync_client=True) as client:
        rerun = client.create_flow_run_from_deployment(deployment_id, state=Scheduled(scheduled_time=scheduled))
    again = run_flow(example.portfolio_flow, flow_run=rerun, parameters=rerun.parameters)
    assert again["rows"] == summary["rows"]
    assert read_jsonl(run_dir / "statistics.jsonl") == first, "the rerun replaced the month, no duplicates"
    assert sorted(p.name for p in (tmp_path / "portfolio").iterdir()) == ["2026-11-01"]


@pytest.mark.timeout(240)
def test_portfolio_flow_on_dask_workers_under_one_global_rate_limit(prefect_server, emulator_factory, tmp_path):
    """Shards on a local Dask cluster of worker processes share one Prefect rate limit.

    The emulator allows 8 requests per 3 s window; the global limit (2 slots, refilled at
    one a second) lets at most 2 + 3 = 5 through in any 3 s. Each worker process paces
    itself too, but only the global limit keeps four processes together under the window.
    """
    import portfolio_flow as example
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    from pf_provider.prefect import ProbableFuturesCredentials

    # No PREFECT_API_URL in the workers' environment: Prefect hands them its settings with each
    # task, and the engine's request threads must carry those settings to the rate limit.
    assert "PREFECT_API_URL" not in os.environ
    emulator = emulator_factory(rate_limit=8, rate_window=3.0)
    ProbableFuturesCredentials(
        client_id=emulator.client_id, client_secret=emulator.client_secret, api_url=emulator.url
    ).save("probable-futures-dask", overwrite=True)
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="pf-test-dask", limit=2, slot_decay_per_second=1.0)
        )

    on_dask = example.portfolio_flow.with_options(task_runner=example.dask_task_runner(n_workers=3))
    summary = on_dask(
        output_dir=str(tmp_path),
        credentials_block="probable-futures-dask",
        shards=6,
        batch_size=4,  # one site per request: 12 requests, more than one window allows
        global_rate_limit="pf-test-dask",
    )
    run_dir = Path(summary["output"]).parent
    check_run_output(run_dir, summary)
    stats = emulator.stats
    assert stats.graphql_requests == len(expected_site_ids()), "one request per site, none retried"
    assert stats.rate_limited == 0, "together the workers stayed under the API's window"
    assert 1 <= stats.token_requests <= 3, "at most one token per worker process"


def test_command_line_setup_and_run_with_the_documented_global_limit(credentials, emulator, tmp_path, capsys):
    """``setup`` creates the global rate limit; ``run`` then takes a slot for every request
    (strictly: a request without its slot would fail the run)."""
    import portfolio_flow as example

    from pf_provider.prefect import rate_limit_settings

    example.main(["setup"])
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("probable-futures-api")
    assert (limit.limit, round(limit.slot_decay_per_second * 60, 6)) == (50, 50), "at most 100 requests a minute"
    assert rate_limit_settings().cli.startswith("prefect gcl create probable-futures-api --limit 50 ")

    capsys.readouterr()
    example.main(["run", "--output-dir", str(tmp_path), "--block", "probable-futures"])
    summary = json.loads(capsys.readouterr().out)
    check_run_output(Path(summary["output"]).parent, summary)
