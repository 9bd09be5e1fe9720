"""Fixtures of the browser suite: real servers on loopback and Debian's headless Chromium.

- ``pf_api``: the Probable Futures emulator (the API the saved connection and block point at);
- ``airflow_ui``: ``airflow api-server`` on a fresh SQLite metadata DB in a temp AIRFLOW_HOME,
  with the UI open to an admin without login and connection testing enabled;
- ``prefect_ui``: ``prefect server start`` on a fresh SQLite DB in a temp PREFECT_HOME;
- ``page``: a Playwright page in /usr/bin/chromium (never a browser Playwright downloads).

Servers are started as child processes in their own session and stopped by their process
group id at the end. Their output goes to log files whose tails appear in any failure.
Screenshots go to docs/img/ (``PF_SCREENSHOT_DIR`` overrides): the docs show this run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT = 420.0
"""Seconds a server may take to answer: generous, for a busy 2-core CI machine."""
UI_TIMEOUT_MS = 60_000
"""Playwright's auto-wait bound for one action or expectation (the UIs load lazily)."""
VIEWPORT = {"width": 1280, "height": 860}


def screenshot_dir() -> Path:
    path = Path(os.environ.get("PF_SCREENSHOT_DIR") or ROOT / "docs" / "img")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_env(**extra: str) -> dict[str, str]:
    """The test process's environment, with proxies off for loopback and ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    """A server started in its own session, so that it and its workers stop together."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_up(self, url: str, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Poll ``url`` until it answers 200; fail with the server's log if it dies or never does."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with requests.Session() as session:
            session.trust_env = False  # loopback: never through a proxy from the environment
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"{self.name} exited with code {self.process.returncode}:\n{self.tail()}")
                try:
                    response = session.get(url, timeout=5)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}"
                except requests.RequestException as exc:
                    last = type(exc).__name__
                time.sleep(0.5)
        pytest.fail(f"{self.name} did not answer {url} within {timeout:.0f} s ({last}):\n{self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def start_server(name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path) -> ServerProcess:
    handle = log.open("wb")
    try:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        handle.close()
    return ServerProcess(name, process, log)


def run_checked(command: list[str], env: dict[str, str], cwd: Path, timeout: float = SERVER_START_TIMEOUT) -> None:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed with code {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


# -- the API the forms point at -------------------------------------------------------------


@pytest.fixture(scope="session")
def pf_api() -> Iterator[object]:
    """The emulator, with a canary client secret that must never show up in a page."""
    from pf_provider.emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(client_id="demo-client-id", client_secret=f"canary-secret-{uuid.uuid4().hex}")
    with Emulator(config) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots go: docs/img/ (``PF_SCREENSHOT_DIR`` overrides)."""
    return screenshot_dir()


# -- Airflow --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AirflowUI:
    url: str
    home: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def airflow_ui() -> Iterator[AirflowUI]:
    pytest.importorskip("airflow", reason="apache-airflow is not installed")
    from cryptography.fernet import Fernet

    with tempfile.TemporaryDirectory(prefix="pf-browser-airflow-") as tmp:
        home = Path(tmp)
        (home / "dags").mkdir()
        port = free_port()
        env = loopback_env(
            AIRFLOW_HOME=str(home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        )
        run_checked([str(VENV_BIN / "airflow"), "db", "migrate"], env, home)
        server = start_server(
            "airflow api-server",
            [str(VENV_BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env,
            home / "api-server.log",
            home,
        )
        try:
            server.wait_until_up(f"http://127.0.0.1:{port}/api/v2/monitor/health")
            yield AirflowUI(f"http://127.0.0.1:{port}", home, env)
        finally:
            server.stop()


# -- Prefect --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrefectUI:
    url: str
    api_url: str
    home: Path
    env: dict[str, str]


@pytest.fixture(scope="session")
def prefect_ui() -> Iterator[PrefectUI]:
    pytest.importorskip("prefect", reason="prefect is not installed")
    with tempfile.TemporaryDirectory(prefix="pf-browser-prefect-") as tmp:
        home = Path(tmp)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        env = loopback_env(
            PREFECT_HOME=str(home),
            PREFECT_PROFILES_PATH=str(home / "profiles.toml"),
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
            PREFECT_UI_API_URL=api_url,
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        env.pop("PREFECT_API_URL", None)
        server = start_server(
            "prefect server",
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-services"],
            env,
            home / "server.log",
            home,
        )
        try:
            server.wait_until_up(f"{api_url}/health")
            yield PrefectUI(f"http://127.0.0.1:{port}", api_url, home, {**env, "PREFECT_API_URL": api_url})
        finally:
            server.stop()


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium; installed here with scripts/ensure-chromium when missing and running as root."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0:
            pytest.skip(f"{CHROMIUM} is missing and installing it needs root: run `sudo scripts/ensure-chromium`")
        run_checked([str(ROOT / "scripts" / "ensure-chromium")], dict(os.environ), ROOT, timeout=900)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_executable: Path) -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser extra (playwright) is missing")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS, timeout=120_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context (no cookies, no storage) and page, with generous auto-wait bounds."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(UI_TIMEOUT_MS * 2)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
