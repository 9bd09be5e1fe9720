"""The bulk engine over real HTTP: batching, pacing, 429s, rejects, kill-and-resume."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pf_provider import InvalidInputError, RateLimiter
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.extract import ROW_FIELDS, Site, extract, iter_rows, read_sites
from pf_provider.output import Checkpoint


def write_sites(path: Path, count: int, *, bad: dict[int, dict] | None = None) -> Path:
    """A CSV of ``count`` sites on a spread of points; ``bad`` replaces some rows."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["site_id", "latitude", "longitude", "country", "city"])
        writer.writeheader()
        for i in range(count):
            row = {
                "site_id": f"s{i:05d}",
                "latitude": round(-60 + (i * 7.3) % 130, 3),
                "longitude": round(-179 + (i * 13.1) % 358, 3),
                "country": "",
                "city": "",
            }
            row.update((bad or {}).get(i, {}))
            writer.writerow(row)
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sites_are_packed_into_batched_requests(tmp_path, emulator, make_client):
    client = make_client(emulator)
    sites = write_sites(tmp_path / "sites.csv", 120)
    summary = extract(
        client, sites, tmp_path / "out.jsonl", datasets=[40101, 40104], scenarios=["1.5", "3.0"], batch_size=40
    )
    rows = lines(tmp_path / "out.jsonl")
    assert len(rows) == 120 * 2 * 2 == summary.rows_written
    assert emulator.stats.graphql_operations == 240
    assert emulator.stats.graphql_requests == summary.requests == 6, "20 sites x 2 datasets per request"
    assert set(rows[0]) == set(ROW_FIELDS)
    assert [r["site_id"] for r in rows[:4]] == ["s00000"] * 4, "input order, rows of a site together"
    assert summary.fetched_sites == 120 and summary.rejected_sites == 0 and summary.total_sites == 120


def test_rows_match_the_single_call(tmp_path, emulator, make_client):
    client = make_client(emulator)
    sites = [{"site_id": "nyc", "latitude": 40.7, "longitude": -73.9}]
    rows = list(iter_rows(client, sites, datasets=[40104], scenarios=[2.0], include_values=True))
    (single,) = client.get_dataset_statistics(latitude=40.7, longitude=-73.9, dataset_id=40104, warming_scenario=2)
    assert rows == [
        {
            "site_id": "nyc",
            **{k: v for k, v in single.to_dict().items() if k in ROW_FIELDS or k == "values"},
            "label": None,
        }
    ]


def test_csv_output_with_percentiles(tmp_path, emulator, make_client):
    client = make_client(emulator)
    extract(
        client,
        write_sites(tmp_path / "s.csv", 5),
        tmp_path / "out.csv",
        datasets=[40901],
        scenarios=[1.5],
        include_values=True,
    )
    with (tmp_path / "out.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 and rows[0]["p100"] and rows[0]["label"]
    assert float(rows[0]["p5"]) == float(rows[0]["low_value"])


def test_rejects_are_recorded_and_the_run_goes_on(tmp_path, emulator, make_client):
    client = make_client(emulator)
    sites = write_sites(
        tmp_path / "s.csv",
        30,
        bad={
            3: {"latitude": "95"},
            7: {"site_id": "s00001"},  # duplicate id
            11: {"latitude": "", "longitude": "", "city": "Atlantis", "country": "Nowhere"},  # server rejects
            12: {"site_id": ""},
        },
    )
    summary = extract(client, sites, tmp_path / "out.jsonl", datasets=[40101], scenarios=[1.5], batch_size=10)
    rejects = lines(tmp_path / "out.jsonl.rejects.jsonl")
    reasons = {r["site_id"]: r["reason"] for r in rejects}
    assert "latitude must be between -90 and 90" in reasons["s00003"]
    assert "appears more than once" in reasons["s00001"]
    assert "server rejected" in reasons["s00011"]
    assert any(r["site_id"] is None and "line 14" in r["reason"] for r in rejects)
    assert summary.rejected_sites == 4 and summary.fetched_sites == 26
    assert len({r["site_id"] for r in lines(tmp_path / "out.jsonl")}) == 26


def test_iter_rows_raises_on_the_first_rejection_unless_handled(emulator, make_client):
    client = make_client(emulator)
    sites = [{"site_id": "a", "latitude": 1, "longitude": 1}, {"site_id": "b", "latitude": 1000, "longitude": 1}]
    got = []
    with pytest.raises(InvalidInputError, match="site 'b'"):
        for row in iter_rows(client, sites, datasets=[40101], scenarios=[1.5]):
            got.append(row)
    assert len(got) == 1, "rows before the rejection were delivered"
    rejected = []
    rows = list(iter_rows(client, sites, datasets=[40101], scenarios=[1.5], on_reject=rejected.append))
    assert len(rows) == 1 and rejected[0].site_id == "b"


def test_bad_files_fail_before_any_request(tmp_path, emulator, make_client):
    client = make_client(emulator)
    (tmp_path / "nocol.csv").write_text("name,latitude,longitude\nx,1,2\n")
    (tmp_path / "noloc.csv").write_text("site_id,name\nx,y\n")
    with pytest.raises(InvalidInputError, match="no site_id column"):
        extract(client, tmp_path / "nocol.csv", tmp_path / "o.jsonl")
    with pytest.raises(InvalidInputError, match="no location columns"):
        extract(client, tmp_path / "noloc.csv", tmp_path / "o.jsonl")
    with pytest.raises(InvalidInputError, match="does not exist"):
        extract(client, tmp_path / "missing.csv", tmp_path / "o.jsonl")
    with pytest.raises(InvalidInputError, match="output format"):
        extract(client, [Site.from_mapping({"site_id": "a", "latitude": 1, "longitude": 1})], tmp_path / "o.txt")
    assert emulator.stats.graphql_requests == 0 and emulator.stats.token_requests == 0


def test_pacing_under_a_short_window_keeps_429s_from_the_caller(tmp_path, make_client):
    with Emulator(EmulatorConfig(rate_limit=10, rate_window=1.0)) as emu:
        client = make_client(emu, rate_limiter=RateLimiter())  # starts from the production 100/min
        summary = extract(
            client,
            write_sites(tmp_path / "s.csv", 600),
            tmp_path / "o.jsonl",
            datasets=[40101],
            scenarios=[1.5],
            batch_size=20,
            concurrency=2,
        )
        assert summary.fetched_sites == 600 and summary.requests == 30
        assert emu.stats.rate_limited == 0


def test_429_bursts_are_waited_out(tmp_path, make_client):
    with Emulator(EmulatorConfig(burst_429_every=5, burst_429_length=2, retry_after=0.2)) as emu:
        client = make_client(emu)
        summary = extract(
            client,
            write_sites(tmp_path / "s.csv", 300),
            tmp_path / "o.jsonl",
            datasets=[40101],
            scenarios=[1.5],
            batch_size=25,
        )
        assert summary.fetched_sites == 300 and emu.stats.rate_limited > 0
        assert len(lines(tmp_path / "o.jsonl")) == 300


def test_several_thousand_sites(tmp_path, emulator, make_client):
    client = make_client(emulator)
    summary = extract(
        client,
        write_sites(tmp_path / "s.csv", 4000),
        tmp_path / "o.jsonl",
        datasets=[40104],
        scenarios=["2.0"],
        batch_size=50,
        concurrency=4,
    )
    rows = lines(tmp_path / "o.jsonl")
    assert len(rows) == 4000 == len({r["site_id"] for r in rows}) == summary.rows_written
    assert summary.requests == 80 and emulator.stats.token_requests == 1


def test_a_finished_run_is_a_no_op_and_changed_settings_are_refused(tmp_path, emulator, make_client):
    client = make_client(emulator)
    sites = write_sites(tmp_path / "s.csv", 20)
    extract(client, sites, tmp_path / "o.jsonl", datasets=[40101], scenarios=[1.5])
    before = (tmp_path / "o.jsonl").read_bytes()
    again = extract(client, sites, tmp_path / "o.jsonl", datasets=[40101], scenarios=[1.5])
    assert again.fetched_sites == 0 and again.skipped_sites == 20 and again.requests == 0
    assert (tmp_path / "o.jsonl").read_bytes() == before
    with pytest.raises(InvalidInputError, match="other settings"):
        extract(client, sites, tmp_path / "o.jsonl", datasets=[40104], scenarios=[1.5])
    fresh = extract(client, sites, tmp_path / "o.jsonl", datasets=[40104], scenarios=[1.5], resume=False)
    assert fresh.fetched_sites == 20


def test_crash_between_rows_and_checkpoint_loses_and_duplicates_nothing(tmp_path, emulator, make_client, mocker):
    client = make_client(emulator)
    sites = write_sites(tmp_path / "s.csv", 200)
    options = {"datasets": [40101], "scenarios": [1.5, 2.0], "batch_size": 20}
    extract(client, sites, tmp_path / "whole.jsonl", **options)

    real_commit = Checkpoint.commit
    calls = {"n": 0}

    def crash_on_fourth(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed after the rows were written, before the checkpoint")
        return real_commit(self, *args, **kwargs)

    mocker.patch.object(Checkpoint, "commit", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        extract(client, sites, tmp_path / "part.jsonl", **options)
    assert len(lines(tmp_path / "part.jsonl")) > 3 * 20 * 2, "the fourth batch's rows were on disk"
    mocker.stopall()
    summary = extract(client, sites, tmp_path / "part.jsonl", **options)
    assert summary.skipped_sites == 60 and summary.fetched_sites == 140
    assert (tmp_path / "part.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_sigkill_and_resume_gives_the_uninterrupted_output(tmp_path):
    sites = write_sites(tmp_path / "s.csv", 600)
    with Emulator(EmulatorConfig(rate_limit=None, latency=0.05)) as emu:
        env = {
            **os.environ,
            "PF_CLIENT_ID": emu.client_id,
            "PF_CLIENT_SECRET": emu.client_secret,
            "PF_API_URL": emu.url,
        }
        command = [
            sys.executable,
            "-m",
            "pf_provider.cli",
            "-q",
            "extract",
            "--sites",
            str(sites),
            "--datasets",
            "40101,40104",
            "--scenarios",
            "1.5,3.0",
            "--batch-size",
            "20",
        ]
        whole = subprocess.run(
            [*command, "--out", str(tmp_path / "whole.jsonl")], env=env, capture_output=True, text=True, timeout=300
        )
        assert whole.returncode == 0, whole.stderr
        out = tmp_path / "killed.jsonl"
        for kill_after_bytes in (1, 100_000, 300_000):
            process = subprocess.Popen(
                [*command, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if out.exists() and out.stat().st_size >= kill_after_bytes:
                    break
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        final = subprocess.run([*command, "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert re.search(r"\(([1-9]\d*) already done", final.stdout), final.stdout
    assert out.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    rows = lines(out)
    assert len(rows) == 600 * 4 == len({(r["site_id"], r["dataset_id"], r["warming_scenario"]) for r in rows})


def test_read_sites_accepts_places_and_aliases(tmp_path):
    (tmp_path / "s.csv").write_text("\ufeffid,lat,lon,city,country\na,1,2,,\nb,,,Paris,France\n")
    got = list(read_sites(tmp_path / "s.csv"))
    assert [s.site_id for s in got] == ["a", "b"]
    assert got[1].location.city == "Paris" and got[0].location.latitude == 1.0


def test_concurrent_extractions_sharing_a_client_count_their_own_requests(tmp_path, emulator, make_client):
    import threading

    client = make_client(emulator)
    client.get_access_token()
    summaries = {}

    def run(name: str, count: int) -> None:
        sites = write_sites(tmp_path / f"{name}.csv", count)
        summaries[name] = extract(
            client, sites, tmp_path / f"{name}.jsonl", datasets=[40101], scenarios=[1.5], batch_size=10
        )

    threads = [threading.Thread(target=run, args=(f"shard{i}", 10 * (i + 1))) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [summaries[f"shard{i}"].requests for i in range(4)] == [1, 2, 3, 4]
    assert emulator.stats.graphql_requests == 10


def test_worker_threads_run_in_the_callers_context(tmp_path, emulator, make_client, caplog):
    import contextvars
    import logging

    run_id = contextvars.ContextVar("run_id", default=None)
    seen = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.threadName.startswith("pf-extract"):
                seen.append(run_id.get())

    recorder = Recorder(level=logging.DEBUG)
    logging.getLogger("pf_provider").addHandler(recorder)
    caplog.set_level(logging.DEBUG, logger="pf_provider")
    try:
        run_id.set("flow-run-42")
        extract(
            make_client(emulator),
            write_sites(tmp_path / "s.csv", 30),
            tmp_path / "o.jsonl",
            datasets=[40101],
            scenarios=[1.5],
            batch_size=10,
        )
    finally:
        logging.getLogger("pf_provider").removeHandler(recorder)
    assert seen and set(seen) == {"flow-run-42"}


def test_parquet_without_pyarrow_fails_before_any_request(tmp_path, emulator, make_client, mocker):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    mocker.patch("importlib.util.find_spec", lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a))
    with pytest.raises(InvalidInputError, match=r"pip install 'pf-provider\[pandas\]'"):
        extract(make_client(emulator), write_sites(tmp_path / "s.csv", 3), tmp_path / "o.parquet")
    assert emulator.stats.graphql_requests == 0 and emulator.stats.token_requests == 0


def test_parquet_output_loads_with_pandas(tmp_path, emulator, make_client):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    extract(
        make_client(emulator),
        write_sites(tmp_path / "s.csv", 7),
        tmp_path / "o.parquet",
        datasets=[40901],
        scenarios=[1.5, 3.0],
        include_values=True,
    )
    frame = pd.read_parquet(tmp_path / "o.parquet")
    assert len(frame) == 14 and list(frame.columns[:3]) == ["site_id", "dataset_id", "warming_scenario"]
    assert len(frame["values"].iloc[0]) == 101 and frame["label"].notna().all()


def test_read_rows_loads_every_output_format_alike(tmp_path, emulator, make_client):
    pytest.importorskip("pandas")
    from pf_provider.output import read_rows

    formats = ["jsonl", "csv", *(["parquet"] if importlib.util.find_spec("pyarrow") else [])]
    client = make_client(emulator)
    frames = {}
    for fmt in formats:
        extract(client, write_sites(tmp_path / "s.csv", 6), tmp_path / f"o.{fmt}", datasets=[40104], scenarios=[2])
        frames[fmt] = read_rows(tmp_path / f"o.{fmt}")
    base = frames["jsonl"]
    assert len(base) == 6 and base["site_id"].tolist()[0] == "s00000" and base["warming_scenario"].iloc[0] == "2.0"
    for fmt in formats[1:]:
        assert frames[fmt]["mid_value"].tolist() == base["mid_value"].tolist()
        assert frames[fmt]["site_id"].tolist() == base["site_id"].tolist()
