"""The example DAGs: they parse without calling the API, and run end to end against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from af_support import (
    CANARY_SECRET,
    CLIENT_ID,
    EXAMPLES,
    REPO,
    assert_no_secrets,
    load_dag,
    rendered_fields,
    run_dag,
    task_instances,
    xcom_value,
    xcoms,
)

pytestmark = pytest.mark.usefixtures("airflow_db")

SITES = 12
DATASETS = {40104, 40301, 40702, 40704}
SCENARIOS = {"1.5", "2.0", "3.0"}
NOVEMBER = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_every_example_dag_imports_and_parsing_sends_nothing(pf_conn: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    files = {Path(dag.fileloc).name for dag in bag.dags.values()}
    assert files == {p.name for p in EXAMPLES.glob("*.py")}  # every file holds a DAG
    assert set(bag.dags) == {"pf_portfolio_monthly", "pf_taskflow_hook"}
    portfolio = bag.dags["pf_portfolio_monthly"]
    assert portfolio.schedule == "@monthly"
    extract = portfolio.get_task("extract_statistics")
    assert extract.pool == "probable_futures"
    assert pf_conn.stats.total_requests == 0  # parsing built no client, fetched no token


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_portfolio_dag_end_to_end_and_rerun_overwrites(
    pf_conn: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    # The output base comes from the Airflow Variable (here from its environment form).
    monkeypatch.setenv("AIRFLOW_VAR_PF_PROVIDER_OUTPUT_DIR", str(tmp_path))
    first = run_dag("pf_portfolio_monthly", logical_date=NOVEMBER)
    tis = task_instances(first)
    assert {ti.state for ti in tis.values()} == {"success"}, {k: ti.state for k, ti in tis.items()}
    assert sorted(m for t, m in tis if t == "extract_statistics") == [0, 1, 2]  # 12 sites in shards of 4

    run_dir = tmp_path / "portfolio" / "2026-11-01"
    output = run_dir / "statistics.jsonl"
    rows = _rows(output)
    assert len(rows) == SITES * len(DATASETS) * len(SCENARIOS)
    assert len({r["site_id"] for r in rows}) == SITES
    assert {r["dataset_id"] for r in rows} == DATASETS
    assert {r["warming_scenario"] for r in rows} == SCENARIOS
    assert sorted(p.name for p in run_dir.iterdir()) == ["statistics.jsonl", "summary.json"]

    summary = xcom_value(first, "summarize")
    assert summary == json.loads((run_dir / "summary.json").read_text("utf-8"))
    assert summary["run_date"] == "2026-11-01" and summary["rows"] == len(rows) and summary["sites"] == SITES
    thresholds = load_dag("pf_portfolio_monthly").params["thresholds"]
    expected: dict[str, set] = {}
    for row in rows:
        limit = thresholds[str(row["dataset_id"])]
        if row["mid_value"] is not None and row["mid_value"] >= limit:
            expected.setdefault(row["site_id"], set()).add((row["dataset_id"], row["warming_scenario"]))
    got = {
        site: {(c["dataset_id"], c["warming_scenario"]) for c in items} for site, items in summary["crossings"].items()
    }
    assert got == expected
    assert 0 < summary["sites_with_crossings"] == len(expected) < SITES
    requests_first = pf_conn.stats.graphql_requests
    assert requests_first == 3  # one batched request per shard

    # A rerun of the same logical date replaces the file: same rows, not twice as many.
    before = output.stat().st_mtime_ns
    second = run_dag("pf_portfolio_monthly", logical_date=NOVEMBER)
    assert xcom_value(second, "summarize")["rows"] == len(rows)
    assert output.stat().st_mtime_ns > before
    assert sorted(map(json.dumps, _rows(output))) == sorted(map(json.dumps, rows))
    assert pf_conn.stats.graphql_requests == 2 * requests_first

    log = "".join(capfd.readouterr())
    secrets = [CANARY_SECRET, *pf_conn.issued_tokens]
    assert_no_secrets([log], secrets, "the task logs")
    for run in (first, second):
        assert_no_secrets([v for *_, v in xcoms(run)], secrets, "XComs")
        assert_no_secrets(rendered_fields(run), secrets, "rendered template fields")
    assert_no_secrets([p.read_text("utf-8") for p in run_dir.iterdir()], secrets, "the output files")


def test_taskflow_dag_end_to_end(pf_conn: Any) -> None:
    run = run_dag("pf_taskflow_hook", run_conf={"latitude": 35.68, "longitude": 139.69})
    assert {ti.state for ti in task_instances(run).values()} == {"success"}
    rows = xcom_value(run, "fetch_statistics")
    assert len(rows) == 3 * 2
    changes = xcom_value(run, "compare")
    assert set(changes) == {"40101", "40104", "40301"}
    by_key = {(r["dataset_id"], r["warming_scenario"]): r["mid_value"] for r in rows}
    for dataset_id, change in changes.items():
        at_15, at_30 = by_key[(int(dataset_id), "1.5")], by_key[(int(dataset_id), "3.0")]
        assert change["change"] == round(at_30 - at_15, 3)
    assert changes["40101"]["change"] > 0  # warmer at 3.0 °C than at 1.5 °C
    zone = xcom_value(run, "climate_zone")["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert {r["warmingScenario"] for r in zone} == {"1.5", "3.0"}
    assert all(r["info"]["climateZoneName"] for r in zone)
    assert pf_conn.stats.token_requests == 2  # one per task that talks to the API
    assert_no_secrets([v for *_, v in xcoms(run)], [CANARY_SECRET, *pf_conn.issued_tokens], "XComs")


def test_demo_script_runs_the_portfolio_dag(emu: Any, tmp_path: Path) -> None:
    """What the README's main-job command runs after it started an emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"PF_API_URL": emu.url, "PF_CLIENT_ID": CLIENT_ID, "PF_CLIENT_SECRET": CANARY_SECRET})
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_airflow.py"), str(tmp_path), "--logical-date", "2026-10-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    output = tmp_path / "portfolio" / "2026-10-01" / "statistics.jsonl"
    rows = _rows(output)
    assert len(rows) == SITES * len(DATASETS) * len(SCENARIOS)
    assert f"rows written:   {len(rows)} ({SITES} sites, 0 rejected)" in result.stdout
    assert str(output) in result.stdout
    assert "sites crossing a threshold:" in result.stdout
    assert emu.stats.graphql_requests == 3
    assert_no_secrets(
        [result.stdout, result.stderr, *(p.read_text("utf-8") for p in output.parent.iterdir())],
        [CANARY_SECRET, *emu.issued_tokens],
        "the demo's output",
    )
    home = result.stdout.split("Airflow home (throwaway, SQLite): ", 1)[1].splitlines()[0]
    assert not Path(home).exists()  # the throwaway AIRFLOW_HOME is removed
