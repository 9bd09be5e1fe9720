"""Fixtures of tests/airflow: a real Airflow 3 (SQLite metadata DB), the emulator, an api-server.

``af_support`` is imported first: it sets AIRFLOW_HOME and the rest of the environment
before anything imports airflow. ``airflow db migrate`` runs once per session.
Connections reach tasks the way users give them: ``AIRFLOW_CONN_...`` variables, the CLI,
the api-server. The emulator answers on loopback and knows one client with a canary secret.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from af_support import AIRFLOW, CANARY_SECRET, CLIENT_ID, HOME, airflow_cli, conn_json, free_port


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The metadata DB, migrated once per session."""
    airflow_cli("db", "migrate")
    return HOME


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """One emulator for the session, knowing only the test client and its canary secret."""
    from pf_provider.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(client_id=CLIENT_ID, client_secret=CANARY_SECRET)) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Any) -> Iterator[Any]:
    """The session emulator with fresh counters and default knobs for one test."""
    emulator.configure(wrong_credentials="201", error_rate=0.0)
    emulator.reset_stats()
    emulator.reset_rate_limit()
    yield emulator
    assert emulator.internal_errors == []


@pytest.fixture
def pf_conn(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``probable_futures_default`` pointing at the emulator, as an AIRFLOW_CONN_ JSON variable."""
    monkeypatch.setenv("AIRFLOW_CONN_PROBABLE_FUTURES_DEFAULT", conn_json(emu.url))
    return emu


@pytest.fixture(scope="session")
def api_server(airflow_db: Path) -> Iterator[str]:
    """A real ``airflow api-server`` on loopback (UI, public API and execution API)."""
    import requests

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (HOME / "api-server.log").open("w")
    process = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the api-server exited: {(HOME / 'api-server.log').read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the api-server did not answer within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()
