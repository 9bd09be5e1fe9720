"""The operators, run by ``dag.test()`` on the real metadata DB against the emulator."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from af_support import (
    CANARY_SECRET,
    assert_no_secrets,
    conn_json,
    rendered_fields,
    run_dag,
    task_instances,
    xcom_value,
    xcoms,
)

from pf_provider.extract import ROW_FIELDS

pytestmark = pytest.mark.usefixtures("airflow_db")


def _secrets(emu: Any) -> list[str]:
    return [CANARY_SECRET, *emu.issued_tokens]


def test_small_pull_returns_json_safe_rows_through_xcom(pf_conn: Any, capfd: pytest.CaptureFixture) -> None:
    conf = {
        "locations": [
            {"latitude": 40.7128, "longitude": -74.006},  # no site_id: derived from the point
            {"site_id": "paris", "country": "France", "city": "Paris"},
            "Nairobi, Kenya",  # an address
            [1.35, 103.82],  # a (latitude, longitude) pair
            {"site_id": "bad", "latitude": 95, "longitude": 0},  # skipped: on_reject="skip"
        ],
        "dataset_ids": [40104, 40901],
        "warming_scenarios": ["1.5", "3.0"],
        "latitude": 51.5,
        "longitude": -0.12,
    }
    run = run_dag("pf_test_xcom", run_conf=conf)
    states = {key[0]: ti.state for key, ti in task_instances(run).items()}
    assert states == {"statistics": "success", "graphql": "success", "graphql_file": "success"}

    rows = xcom_value(run, "statistics")
    assert len(rows) == 4 * 2 * 2
    assert all(list(row) == list(ROW_FIELDS) for row in rows)
    assert {row["site_id"] for row in rows} == {"40.7128,-74.006", "paris", "Nairobi, Kenya", "1.35,103.82"}
    assert {(row["dataset_id"], row["warming_scenario"]) for row in rows} == {
        (d, s) for d in (40104, 40901) for s in ("1.5", "3.0")
    }
    assert all(row["label"] for row in rows if row["dataset_id"] == 40901)  # climate-zone names
    assert all(isinstance(row["mid_value"], float) for row in rows)

    data = xcom_value(run, "graphql")
    (row,) = data["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert row["datasetId"] == 40101 and row["warmingScenario"] in ("2.0", "2")

    from_file = xcom_value(run, "graphql_file")["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert {r["warmingScenario"] for r in from_file} == {"0.5", "1.0", "1.5", "2.0", "2.5", "3.0"}

    rendered = {task: fields for task, _, fields in rendered_fields(run)}
    assert rendered["graphql_file"]["query"].startswith("# pf_test_xcom: rendered")
    assert json.loads(rendered["statistics"]["locations"]) == conf["locations"]
    assert rendered["statistics"]["dataset_ids"] == "[40104, 40901]"

    out = capfd.readouterr()
    log = out.out + out.err
    assert "Skipping 1 of 5 locations" in log and "latitude must be between -90 and 90" in log
    assert "above xcom_warn_bytes=2000" in log  # 16 rows are more than this DAG's 2 kB threshold
    assert_no_secrets([log], _secrets(pf_conn), "the task log")
    assert_no_secrets([v for *_, v in xcoms(run)], _secrets(pf_conn), "XComs")
    assert_no_secrets(rendered_fields(run), _secrets(pf_conn), "rendered template fields")


def test_bad_input_fails_before_any_request(pf_conn: Any, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    sites = tmp_path / "sites.csv"
    sites.write_text("site_id,latitude,longitude\nok,10,10\nswapped,10,200\nok,11,11\n")
    run = run_dag("pf_test_file", run_conf={"locations": str(sites), "output_path": str(tmp_path / "out.jsonl")})
    (ti,) = task_instances(run).values()
    assert ti.state == "failed"
    log = "".join(capfd.readouterr())
    assert "2 of 3 locations cannot be used" in log
    assert "site id 'ok' appears more than once" in log
    assert "longitude must be between -180 and 180" in log and "swapped" in log
    assert pf_conn.stats.total_requests == 0
    assert not (tmp_path / "out.jsonl").exists()


def test_large_pull_writes_files_and_returns_the_path(pf_conn: Any, tmp_path: Path) -> None:
    sites = tmp_path / "sites.csv"
    with sites.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["site_id", "latitude", "longitude", "country", "city"])
        for i in range(30):
            writer.writerow([f"s{i:02d}", -60 + 4 * i, -170 + 11 * i, "", ""])
        writer.writerow(["tokyo", "", "", "Japan", "Tokyo"])
    for target in (tmp_path / "out" / "stats.jsonl", tmp_path / "out" / "stats.csv"):
        run = run_dag("pf_test_file", run_conf={"locations": str(sites), "output_path": str(target)})
        assert xcom_value(run, "statistics") == str(target)
        summary = xcom_value(run, "statistics", key="summary")
        assert summary["output"] == str(target)
        assert summary["total_sites"] == 31 and summary["fetched_sites"] == 31 and summary["rejected_sites"] == 0
        assert summary["rows_written"] == 31 * 2  # two datasets, one scenario
        if target.suffix == ".jsonl":
            rows = [json.loads(line) for line in target.read_text().splitlines()]
        else:
            with target.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
        assert len(rows) == 62
        assert {r["site_id"] for r in rows} == {f"s{i:02d}" for i in range(30)} | {"tokyo"}
        assert_no_secrets([target.read_text()], _secrets(pf_conn), target.name)
    assert pf_conn.stats.graphql_requests >= 2


def test_object_storage_paths(pf_conn: Any, tmp_path: Path) -> None:
    """Sites read from, and rows written to, an ObjectStoragePath (fsspec memory store; file:// too)."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())
    source = ObjectStoragePath("memory://portfolio/in/sites.csv")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("site_id,latitude,longitude\nx,12.5,45.5\ny,-33.9,18.4\n")
    target = "memory://portfolio/out/2026-11-01/statistics.jsonl"
    run = run_dag("pf_test_file", run_conf={"locations": str(source), "output_path": target})
    assert xcom_value(run, "statistics") == target
    rows = [json.loads(line) for line in ObjectStoragePath(target).read_text().splitlines()]
    assert sorted({r["site_id"] for r in rows}) == ["x", "y"] and len(rows) == 4

    local = tmp_path / "file-uri" / "stats.jsonl"
    run = run_dag("pf_test_file", run_conf={"locations": str(source), "output_path": f"file://{local}"})
    assert xcom_value(run, "statistics") == f"file://{local}"
    assert len(local.read_text().splitlines()) == 4


def test_dynamic_task_mapping_with_a_pool(pf_conn: Any) -> None:
    run = run_dag("pf_test_mapped")
    tis = task_instances(run)
    assert sorted(tis) == [("statistics", 0), ("statistics", 1), ("statistics", 2)]
    assert {ti.state for ti in tis.values()} == {"success"}
    assert {ti.pool for ti in tis.values()} == {"probable_futures"}
    sizes = [len(xcom_value(run, "statistics", map_index=i)) for i in range(3)]
    assert sizes == [4, 2, 2]  # sites per shard x one dataset x two scenarios
    assert {r["site_id"] for r in xcom_value(run, "statistics", map_index=1)} == {"c"}
    assert {r["site_id"] for r in xcom_value(run, "statistics", map_index=2)} == {"35,139"}
    assert pf_conn.stats.graphql_requests == 3


def test_http_off_loopback_is_refused_in_the_task_log(
    emu: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PROBABLE_FUTURES_DEFAULT", conn_json("http://graphql.example.org"))
    run = run_dag("pf_test_xcom")
    assert task_instances(run)[("statistics", -1)].state == "failed"
    log = "".join(capfd.readouterr())
    assert "connection 'probable_futures_default': plain http:// is refused for 'graphql.example.org'" in log
    assert CANARY_SECRET not in log
    assert emu.stats.total_requests == 0
