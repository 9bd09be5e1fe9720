"""The ``pf-provider`` command line and the progress reporting of long extractions."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pf_provider import cli
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.extract import extract
from pf_provider.progress import Progress


def run_cli(args: list[str], emu: Emulator | None, cwd: Path, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PF_")}
    if emu is not None:
        env.update({"PF_CLIENT_ID": emu.client_id, "PF_CLIENT_SECRET": emu.client_secret, "PF_API_URL": emu.url})
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "pf_provider.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_datasets_lists_the_catalog(tmp_path):
    table = run_cli(["datasets"], None, tmp_path)
    assert table.returncode == 0 and "40901" in table.stdout and "Climate zones" in table.stdout
    as_json = run_cli(["datasets", "--json"], None, tmp_path)
    assert len(json.loads(as_json.stdout)) == 30


def test_token_says_when_it_expires_and_never_shows_it(tmp_path, emulator):
    done = run_cli(["token"], emulator, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "expires at" in done.stdout and emulator.client_id in done.stdout
    (token,) = emulator.issued_tokens
    assert token not in done.stdout + done.stderr


def test_extract_writes_rows_and_reports(tmp_path, emulator):
    (tmp_path / "sites.csv").write_text("site_id,latitude,longitude\na,10,10\nb,20,20\nc,95,0\n")
    args = ["extract", "--sites", "sites.csv", "--out", "o.csv", "--datasets", "40101,40104", "--scenarios", "1.5"]
    done = run_cli(args, emulator, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Wrote 4 rows for 2 sites" in done.stdout and "1 rejected" in done.stdout
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 5


@pytest.mark.parametrize(
    ("sites_csv", "message"),
    [
        (None, "does not exist"),
        ("name,latitude,longitude\nx,1,2\n", "no site_id column"),
        ("site_id,name\nx,y\n", "no location columns"),
        ("", "empty or has no header"),
    ],
)
def test_bad_files_exit_2_before_any_request(tmp_path, emulator, sites_csv, message):
    if sites_csv is not None:
        (tmp_path / "sites.csv").write_text(sites_csv)
    done = run_cli(["extract", "--sites", "sites.csv", "--out", "o.jsonl"], emulator, tmp_path)
    assert done.returncode == cli.EXIT_BAD_INPUT
    assert message in done.stderr and "Traceback" not in done.stderr
    assert emulator.stats.token_requests == 0 and emulator.stats.graphql_requests == 0


def test_bad_arguments_exit_2(tmp_path, emulator):
    (tmp_path / "sites.csv").write_text("site_id,latitude,longitude\na,1,1\n")
    done = run_cli(["extract", "--sites", "sites.csv", "--out", "o.jsonl", "--scenarios", "4.5"], emulator, tmp_path)
    assert done.returncode == cli.EXIT_BAD_INPUT and "choose among 0.5" in done.stderr


@pytest.mark.parametrize("answer", ["201", "500"])
def test_wrong_credentials_exit_3(tmp_path, answer):
    with Emulator(EmulatorConfig(wrong_credentials=answer)) as emu:
        done = run_cli(["token"], emu, tmp_path, PF_CLIENT_SECRET="not-the-secret")
    assert done.returncode == cli.EXIT_AUTH
    assert "client ID 'demo-client-id'" in done.stderr and "not-the-secret" not in done.stderr


def test_missing_credentials_without_a_terminal_exit_2(tmp_path):
    done = run_cli(["token"], None, tmp_path)
    assert done.returncode == cli.EXIT_BAD_INPUT and "set PF_CLIENT_ID" in done.stderr


def test_an_unreachable_api_exits_4(tmp_path):
    done = run_cli(["token"], None, tmp_path, PF_CLIENT_ID="x", PF_CLIENT_SECRET="y", PF_API_URL="http://127.0.0.1:9")
    assert done.returncode == cli.EXIT_API and "failed after" in done.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_credentials_are_prompted_for_at_a_terminal(emulator, monkeypatch):
    for name in ("PF_CLIENT_ID", "PF_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PF_API_URL", emulator.url)
    monkeypatch.setattr("builtins.input", lambda prompt: emulator.client_id)
    asked = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: asked.append(prompt) or emulator.client_secret)
    out = io.StringIO()
    assert cli.main(["token"], out=out, stdin=Terminal()) == cli.EXIT_OK
    assert asked == ["Probable Futures client secret: "] and "expires at" in out.getvalue()


def test_progress_reports_done_total_rate_and_eta():
    now = [0.0]
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("test.progress")
    logger.addHandler(Capture())
    logger.setLevel(logging.INFO)
    bar = Terminal()
    progress = Progress(100, logger=logger, interval=10, stream=bar, clock=lambda: now[0])
    progress.skip(20)
    for _ in range(8):
        now[0] += 4
        progress.advance(5)
    # One line once 10 s have passed since the last: at 12 s (15 fetched + 20 resumed) and at 24 s.
    assert records == [
        "35/100 sites (35.0%), 1.2 sites/s, ETA 52s",
        "50/100 sites (50.0%), 1.2 sites/s, ETA 40s",
    ]
    assert bar.getvalue().count("\r") == 8 and "60/100 sites" in bar.getvalue()


def test_extraction_logs_progress_lines(tmp_path, emulator, make_client, caplog):
    caplog.set_level(logging.INFO, logger="pf_provider.extract")
    (tmp_path / "s.csv").write_text("site_id,latitude,longitude\n" + "".join(f"s{i},{i},{i}\n" for i in range(30)))
    extract(
        make_client(emulator),
        tmp_path / "s.csv",
        tmp_path / "o.jsonl",
        datasets=[40101],
        scenarios=[1.5],
        batch_size=10,
        concurrency=1,
        progress_interval=0,
    )
    lines = [r.getMessage() for r in caplog.records if "sites/s" in r.getMessage()]
    assert lines[0].startswith("10/30 sites (33.3%)") and "ETA" in lines[0]
    assert lines[-1].startswith("Finished: 30/30 sites (100.0%)")
