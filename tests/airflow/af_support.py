"""Environment and helpers of tests/airflow: a throwaway AIRFLOW_HOME with its SQLite DB.

conftest.py imports this module first, so the environment is set before anything imports
airflow (Airflow reads its configuration once, at import). Nothing here imports airflow at
module level.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")

HOME = Path(tempfile.mkdtemp(prefix="pf-airflow-tests-"))
atexit.register(shutil.rmtree, HOME, True)

CLIENT_ID = "pf-airflow-tests"
CANARY_SECRET = f"canary-secret-{uuid.uuid4().hex}"

for _key in [k for k in os.environ if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_", "AIRFLOW__"))]:
    del os.environ[_key]
os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(HOME / "logs"),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {
                    "name": "dags-folder",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {},
                },
                {
                    "name": "pf-tests",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(TEST_DAGS)},
                },
            ]
        ),
        "PF_PROVIDER_OUTPUT_DIR": str(HOME / "output"),
    }
)


def airflow_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the ``airflow`` command of this venv with the test environment."""
    result = subprocess.run(
        [AIRFLOW, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=240
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def load_dag(dag_id: str) -> Any:
    """A DAG parsed from the examples or the test bundle."""
    from airflow.dag_processing.dagbag import DagBag

    for folder in (EXAMPLES, TEST_DAGS):
        bag = DagBag(dag_folder=str(folder))
        assert not bag.import_errors, bag.import_errors
        if dag_id in bag.dags:
            return bag.dags[dag_id]
    raise AssertionError(f"no DAG {dag_id!r}")


def run_dag(dag_id: str, **kwargs: Any) -> Any:
    """``dag.test()`` on the real metadata DB; returns the DagRun."""
    return load_dag(dag_id).test(**kwargs)


def task_instances(dag_run: Any) -> dict[tuple[str, int], Any]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        for row in rows:
            session.expunge(row)
    return {(ti.task_id, ti.map_index): ti for ti in rows}


def xcoms(dag_run: Any) -> list[tuple[str, int, str, Any]]:
    """Every XCom of a run: (task_id, map_index, key, value)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return [(x.task_id, x.map_index, x.key, x.value) for x in rows]


def xcom_value(dag_run: Any, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
    found = [v for t, m, k, v in xcoms(dag_run) if (t, m, k) == (task_id, map_index, key)]
    assert found, f"no XCom {key!r} for {task_id}[{map_index}] in {xcoms(dag_run)!r:.500}"
    value = found[0]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def rendered_fields(dag_run: Any) -> list[Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return [(r.task_id, r.map_index, r.rendered_fields) for r in rows]


def assert_no_secrets(texts: Iterable[Any], secrets: Iterable[str], where: str) -> None:
    """None of ``secrets`` appears in any of ``texts`` (any object, compared through its text)."""
    secrets = [s for s in secrets if s]
    assert secrets, "nothing to look for"
    for text in texts:
        blob = text if isinstance(text, str) else json.dumps(text, default=str)
        for secret in secrets:
            assert secret not in blob, f"a secret ({secret[:12]}...) leaked into {where}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def conn_json(url: str, *, login: str = CLIENT_ID, password: str = CANARY_SECRET, **extra: Any) -> str:
    body: dict[str, Any] = {"conn_type": "probable_futures", "login": login, "password": password, "host": url}
    if extra:
        body["extra"] = extra
    return json.dumps(body)
