"""``ProbableFuturesHook`` against the emulator, with connections given every way Airflow allows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from af_support import CANARY_SECRET, CLIENT_ID, HOME, airflow_cli, conn_json

from pf_provider.errors import ConfigurationError, InvalidInputError

CONN_ENV = "AIRFLOW_CONN_PROBABLE_FUTURES_DEFAULT"


def _hook(conn_id: str = "probable_futures_default", **kwargs: Any) -> Any:
    from pf_provider.airflow.hooks import ProbableFuturesHook

    return ProbableFuturesHook(conn_id, **kwargs)


def test_constructing_the_hook_and_its_client_sends_nothing(pf_conn: Any) -> None:
    hook = _hook("a_connection_that_does_not_exist")
    assert repr(hook) == "ProbableFuturesHook(probable_futures_conn_id='a_connection_that_does_not_exist')"
    hook = _hook()
    client = hook.get_conn()
    assert hook.get_conn() is client  # one client (and one token) per hook
    assert pf_conn.stats.total_requests == 0
    assert client.api_url == pf_conn.url
    assert client.client_id == CLIENT_ID
    assert CANARY_SECRET not in repr(client) + repr(hook)
    client.get_access_token()
    assert pf_conn.stats.token_requests == 1
    hook.close()


def test_hook_pass_throughs(pf_conn: Any) -> None:
    with _hook() as hook:
        rows = hook.get_dataset_statistics(latitude=40.7, longitude=-73.9, dataset_id=40104, warming_scenario="1.5")
        assert [(r.dataset_id, r.warming_scenario) for r in rows] == [(40104, "1.5")]
        assert rows[0].to_dict()["mid_value"] == rows[0].mid_value
        data = hook.execute(
            "mutation($input: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $input) "
            "{ datasetStatisticsResponses { datasetId midValue } } }",
            {"input": {"latitude": 40.7, "longitude": -73.9, "datasetId": 40104, "warmingScenario": ["1.5"]}},
        )
    (row,) = data["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert row["datasetId"] == 40104
    assert float(row["midValue"]) == rows[0].mid_value
    assert pf_conn.stats.token_requests == 1


def test_uri_form_with_protocol_in_host(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``probable-futures://http://id:secret@127.0.0.1:PORT``: Airflow splits host and port; the hook joins them."""
    port = emu.url.rsplit(":", 1)[1]
    uri = f"probable-futures://http://{quote(CLIENT_ID, safe='')}:{quote(CANARY_SECRET, safe='')}@127.0.0.1:{port}"
    monkeypatch.setenv(CONN_ENV, uri + "?timeout=33&max_attempts=2")
    hook = _hook()
    ok, message = hook.test_connection()
    assert ok, message
    kwargs = hook.client_kwargs(hook.get_connection(hook.probable_futures_conn_id))
    assert kwargs["api_url"] == emu.url
    assert kwargs["timeout"] == (10.0, 33.0)
    assert kwargs["retry"].max_attempts == 2


def test_uri_form_without_scheme_means_https_and_ca_bundle_adds_trust(
    pf_emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host without scheme is https; the emulator's own CA is trusted through the ca_bundle extra only."""
    tls = pf_emulator_factory(tls=True, client_id=CLIENT_ID, client_secret=CANARY_SECRET)
    assert tls.url.startswith("https://127.0.0.1:")
    port = tls.url.rsplit(":", 1)[1]
    base = f"probable-futures://{quote(CLIENT_ID, safe='')}:{quote(CANARY_SECRET, safe='')}@127.0.0.1:{port}"
    monkeypatch.setenv(CONN_ENV, base)
    ok, message = _hook().test_connection()
    assert not ok
    assert "TLS verification failed" in message and "ca_bundle" in message
    assert tls.stats.token_requests == 0  # the handshake failed: nothing reached the server
    monkeypatch.setenv(CONN_ENV, f"{base}?ca_bundle={quote(str(tls.ca_cert_path), safe='')}")
    ok, message = _hook().test_connection()
    assert ok, message
    assert tls.stats.token_requests == 1


def test_connection_from_the_cli_and_the_ui_test_button(emu: Any, api_server: str) -> None:
    """``airflow connections add`` + ``airflow connections test``, then the api-server's Test endpoint."""
    airflow_cli(
        "connections",
        "add",
        "pf_cli",
        "--conn-type",
        "probable_futures",
        "--conn-login",
        CLIENT_ID,
        "--conn-password",
        CANARY_SECRET,
        "--conn-host",
        emu.url,
        "--conn-extra",
        json.dumps({"timeout": 20, "requests_per_minute": 50}),
    )
    tested = airflow_cli("connections", "test", "pf_cli")
    assert "Connection success!" in tested.stdout
    assert emu.stats.token_requests == 1

    # The UI's Test button: POST /api/v2/connections/test runs hook.test_connection() in the api-server.
    token = requests.get(f"{api_server}/auth/token", timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"connection_id": "pf_ui", "conn_type": "probable_futures", "host": emu.url, "login": CLIENT_ID}
    good = requests.post(
        f"{api_server}/api/v2/connections/test", json={**body, "password": CANARY_SECRET}, headers=headers, timeout=60
    )
    assert good.status_code == 200, good.text[:500]
    assert good.json()["status"] is True, good.json()
    assert CLIENT_ID in good.json()["message"] and CANARY_SECRET not in good.text
    bad = requests.post(
        f"{api_server}/api/v2/connections/test", json={**body, "password": "wrong-secret"}, headers=headers, timeout=60
    )
    assert bad.status_code == 200 and bad.json()["status"] is False
    assert "client secret" in bad.json()["message"] and "wrong-secret" not in bad.text


def test_connection_from_a_secrets_backend(emu: Any, tmp_path: Path) -> None:
    """A file-based secrets backend (what Vault, AWS SM... plug into): the hook finds the connection there."""
    connections = tmp_path / "connections.json"
    connections.write_text(
        json.dumps(
            {
                "pf_from_backend": {
                    "conn_type": "probable_futures",
                    "login": CLIENT_ID,
                    "password": CANARY_SECRET,
                    "host": emu.url,
                    "extra": {"max_batch_size": 7},
                }
            }
        )
    )
    code = (
        "import json\n"
        "from pf_provider.airflow.hooks import ProbableFuturesHook\n"
        "hook = ProbableFuturesHook('pf_from_backend')\n"
        "ok, message = hook.test_connection()\n"
        "print(json.dumps({'ok': ok, 'message': message, 'batch': hook.get_conn().max_batch_size}))\n"
    )
    env = {
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections)}),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"ok": True, "message": report["message"], "batch": 7}
    assert emu.url in report["message"]
    assert CANARY_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["201", "500"])
def test_test_connection_reports_wrong_credentials(emu: Any, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """Both ways this service answers a wrong secret give (False, a message naming the client ID)."""
    emu.configure(wrong_credentials=mode)
    wrong = f"wrong-secret-{mode}-0123456789"
    monkeypatch.setenv(CONN_ENV, conn_json(emu.url, password=wrong))
    ok, message = _hook().test_connection()
    assert ok is False
    assert repr(CLIENT_ID) in message
    assert "client secret" in message
    assert wrong not in message
    expected = "without an access_token" if mode == "201" else "HTTP 500"
    assert expected in message
    assert emu.stats.status_counts.get(int(mode), 0) >= 1


def test_test_connection_success_and_missing_connection(pf_conn: Any) -> None:
    ok, message = _hook().test_connection()
    assert ok is True
    assert message.startswith(f"Connected to {pf_conn.url} as client ID {CLIENT_ID!r}")
    assert CANARY_SECRET not in message
    assert not any(token in message for token in pf_conn.issued_tokens)
    ok, message = _hook("pf_nowhere").test_connection()
    assert ok is False and "pf_nowhere" in message


def test_the_client_secret_and_each_new_token_are_masked(pf_conn: Any) -> None:
    """Registered with Airflow's masker the moment they are read or fetched (an opaque token proves it is ours)."""
    from airflow.sdk.log import redact

    opaque = f"opaque-token-{CANARY_SECRET[-12:]}-0123456789"
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pf_conn.enqueue_raw("/auth/token", 201, {"access_token": opaque, "token_type": "Bearer", "expires_at": expires})
    hook = _hook()
    client = hook.get_conn()
    assert redact(f"secret={CANARY_SECRET}") == "secret=***"
    assert redact(f"token={opaque}") == f"token={opaque}"  # not fetched yet
    assert client.get_access_token() == opaque
    assert redact(f"token={opaque}") == "token=***"


EXTRAS = {
    "timeout": "45",
    "connect_timeout": 4,
    "max_attempts": "3",
    "requests_per_minute": 25,
    "max_batch_size": 10,
    "allow_unknown_datasets": "true",
}


def test_extra_fields_become_client_arguments(emu: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv(CONN_ENV, conn_json(emu.url, **EXTRAS, ca_bundle=f"  {bundle} "))
    hook = _hook()
    kwargs = hook.client_kwargs(hook.get_connection(hook.probable_futures_conn_id))
    assert kwargs["timeout"] == (4.0, 45.0)
    assert kwargs["retry"].max_attempts == 3
    assert kwargs["max_batch_size"] == 10
    assert kwargs["ca_bundle"] == str(bundle)
    assert kwargs["allow_unknown_datasets"] is True
    limiter = kwargs["rate_limiter"]
    assert limiter.status().limit == 25
    # Same rate in the same process: one shared limiter, since the API limits per client IP.
    again = _hook().client_kwargs(hook.get_connection(hook.probable_futures_conn_id))["rate_limiter"]
    assert again is limiter
    # The legacy prefixed form of extra keys works too; client_options override per task.
    monkeypatch.setenv(CONN_ENV, conn_json(emu.url, extra__probable_futures__max_batch_size=3))
    seen: list[str] = []
    hook = _hook(client_options={"timeout": 99, "on_new_token": seen.append})
    kwargs = hook.client_kwargs(hook.get_connection(hook.probable_futures_conn_id))
    assert kwargs["max_batch_size"] == 3 and kwargs["timeout"] == (10.0, 99.0)
    kwargs["on_new_token"]("a-token-value-0123456789")  # the caller's callback, after masking
    assert seen == ["a-token-value-0123456789"]
    assert "rate_limiter" not in kwargs  # default: the core's shared limiter for the URL
    assert emu.stats.total_requests == 0


@pytest.mark.parametrize(
    ("host", "extra", "login", "expected"),
    [
        ("http://graphql.example.org", {}, CLIENT_ID, "plain http:// is refused"),
        ("ftp://127.0.0.1", {}, CLIENT_ID, "must use https://"),
        (None, {"verify": False}, CLIENT_ID, "never turns off"),
        (None, {"ssl_verify": "false"}, CLIENT_ID, "ca_bundle"),
        (None, {"timeout": "soon"}, CLIENT_ID, "'timeout' must be a positive number"),
        (None, {"max_attempts": 2.5}, CLIENT_ID, "whole number"),
        (None, {"allow_unknown_datasets": "perhaps"}, CLIENT_ID, "true or false"),
        (None, {"ca_bundle": "/nonexistent/ca.pem"}, CLIENT_ID, "not a file on this machine"),
        (None, {}, "", "has no client ID"),
    ],
)
def test_bad_connections_fail_before_any_request(
    emu: Any, monkeypatch: pytest.MonkeyPatch, host: str | None, extra: dict, login: str, expected: str
) -> None:
    monkeypatch.setenv(CONN_ENV, conn_json(host or emu.url, login=login, **extra))
    with pytest.raises(ConfigurationError) as caught:
        _hook().get_conn()
    message = str(caught.value)
    assert expected in message
    assert "'probable_futures_default'" in message
    assert CANARY_SECRET not in message
    assert isinstance(caught.value, InvalidInputError)
    ok, reason = _hook().test_connection()
    assert ok is False and expected in reason
    assert emu.stats.total_requests == 0


def test_no_secret_in_files_the_tests_wrote() -> None:
    """Nothing this module ran (CLI, api-server, hooks) wrote the canary into AIRFLOW_HOME's logs."""
    files = [p for p in (HOME / "logs").rglob("*") if p.is_file()] + [HOME / "api-server.log"]
    leaked = [str(p) for p in files if p.exists() and CANARY_SECRET in p.read_text("utf-8", errors="replace")]
    assert leaked == []
