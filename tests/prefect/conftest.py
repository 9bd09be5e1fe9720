"""Fixtures of the Prefect suite: one real Prefect server per session, emulators, a canary.

Prefect reads its settings from the environment, so the throwaway home, the extra logger
and the switched-off telemetry are set here, before any test module imports Prefect.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="pf-prefect-tests-")
os.environ["PREFECT_HOME"] = _HOME
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
    os.environ.pop(_name, None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = "pf_provider"
os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
# The bulk engine's request threads run outside Prefect's run context; their records still
# reach the console, and the same statements are checked from the task's own thread.
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"

import prefect.settings  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from pf_provider.emulator import Emulator, EmulatorConfig  # noqa: E402
from pf_provider.prefect import ProbableFuturesCredentials  # noqa: E402
from pf_provider.prefect.credentials import clear_client_cache  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags_examples" / "prefect"
BLOCK_NAME = "probable-futures"
CLIENT_ID = "prefect-canary-client"

# The example flows live outside the package: the tests import them as modules.
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def canary_secret() -> str:
    """A client secret that must never show up in a log, a result or a file."""
    return f"canary-secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[dict[str, Any]]:
    """A real Prefect server (subprocess, temporary SQLite database) for the whole session.

    The block types the server holds are read straight after it started, before this
    process registers or saves anything: what it lists came from the server's own start,
    which imports the ``prefect.collections`` entry points.
    """
    from prefect.client.orchestration import get_client

    with prefect_test_harness(server_startup_timeout=120):
        with get_client(sync_client=True) as client:
            slugs = {block_type.slug for block_type in client.read_block_types()}
        yield {
            "api_url": prefect.settings.PREFECT_API_URL.value(),
            "database_url": prefect.settings.PREFECT_API_DATABASE_CONNECTION_URL.value(),
            "block_types_at_start": slugs,
        }


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test starts without cached clients (the cache is per process and per credentials)."""
    clear_client_cache()
    logger = logging.getLogger("pf_provider")
    level = logger.level
    logger.setLevel(logging.DEBUG)  # the canary tests must see everything pf_provider logs
    yield
    logger.setLevel(level)
    clear_client_cache()


@pytest.fixture
def emulator_factory(canary_secret: str) -> Iterator[Callable[..., Emulator]]:
    """Start emulators whose client has the canary secret; stopped after the test."""
    started: list[Emulator] = []

    def start(**settings: Any) -> Emulator:
        settings.setdefault("client_id", CLIENT_ID)
        settings.setdefault("client_secret", canary_secret)
        emulator = Emulator(EmulatorConfig(**settings)).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory()


@pytest.fixture
def credentials(prefect_server: dict[str, Any], emulator: Emulator) -> ProbableFuturesCredentials:
    """The emulator's credentials saved on the server as ``probable-futures``."""
    block = ProbableFuturesCredentials(
        client_id=emulator.client_id, client_secret=emulator.client_secret, api_url=emulator.url
    )
    block.save(BLOCK_NAME, overwrite=True)
    return block


@pytest.fixture
def read_all_logs(prefect_server: dict[str, Any]) -> Callable[[], list[Any]]:
    """Read every log record the server holds, after this process's pending logs were sent."""
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    def read() -> list[Any]:
        APILogHandler().flush()
        logs: list[Any] = []
        with get_client(sync_client=True) as client:
            while True:
                page = client.read_logs(limit=200, offset=len(logs))
                logs.extend(page)
                if len(page) < 200:
                    return logs

    return read
