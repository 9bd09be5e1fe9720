"""Secrets in the logs of a real worker: LocalExecutor, task supervisor, execution API.

``dag.test()`` runs tasks in the test process, where Airflow masks nothing in logs. Here
the task runs as in production, in a supervised subprocess that reports to the api-server
and writes the task log file the UI shows. The token is opaque (not a JWT, which Airflow
would redact by its shape), so only pf_provider's registration with the masker can hide it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from af_support import CANARY_SECRET, CLIENT_ID, HOME, assert_no_secrets, run_dag, task_instances, xcoms


def test_task_log_of_a_supervised_worker_masks_secret_and_token(
    pf_conn: Any, api_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"{api_server}/execution/")
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "2")
    opaque = f"opaque-token-{CANARY_SECRET[-16:]}-abcdef"
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pf_conn.enqueue_raw("/auth/token", 201, {"access_token": opaque, "token_type": "Bearer", "expires_at": expires})

    run = run_dag("pf_test_masking", use_executor=True)
    (ti,) = task_instances(run).values()
    assert ti.state == "success"
    assert pf_conn.stats.token_requests == 1

    logs = sorted((HOME / "logs" / "dag_id=pf_test_masking").rglob("*.log"))
    assert logs, "the worker wrote no task log"
    text = "\n".join(path.read_text("utf-8") for path in logs)
    events = [json.loads(line)["event"] for line in text.splitlines() if line.startswith("{")]
    assert "printed token=*** secret=***" in events  # stdout of the task, relayed by the supervisor
    assert "logged token=*** secret=***" in events
    assert_no_secrets([text], [opaque, CANARY_SECRET], "the task log file")
    (value,) = [v for task, _, key, v in xcoms(run) if key == "return_value"]
    value = json.loads(value) if isinstance(value, str) else value
    assert value == {"client_id": CLIENT_ID, "token_length": len(opaque)}
