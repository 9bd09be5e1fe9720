"""The provider as Airflow discovers it: entry point, metadata, the connection form."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests
from af_support import REPO

EXPECTED_EXTRA_FIELDS = {
    "timeout",
    "connect_timeout",
    "max_attempts",
    "requests_per_minute",
    "max_batch_size",
    "ca_bundle",
    "allow_unknown_datasets",
}


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=REPO)


def test_get_provider_info_imports_nothing_heavy() -> None:
    result = _python(
        "import sys, json, pf_provider\n"
        "info = pf_provider.get_provider_info()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('airflow', 'requests', 'jwt', 'graphql', 'prefect', 'pendulum', 'sqlalchemy')"
        " or m in ('pf_provider.client', 'pf_provider.airflow.hooks'))\n"
        "print(json.dumps({'heavy': heavy, 'types': [c['connection-type'] for c in info['connection-types']]}))"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["types"] == ["probable_futures"]


def test_entry_point_and_schema() -> None:
    from importlib.metadata import entry_points

    import airflow
    import jsonschema

    import pf_provider

    points = [e for e in entry_points(group="apache_airflow_provider") if e.value == "pf_provider:get_provider_info"]
    assert len(points) == 1
    info = points[0].load()()
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
    assert info["package-name"] == "pf-provider"
    assert info["versions"][0] == pf_provider.__version__
    (conn,) = info["connection-types"]
    assert conn["hook-class-name"] == "pf_provider.airflow.hooks.ProbableFuturesHook"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["placeholders"]["host"] == "https://graphql.probablefutures.org"
    # No declared field may switch TLS verification off.
    for name, field in conn["conn-fields"].items():
        assert "verify" not in name and "insecure" not in name and "ssl" not in name, name
        assert field["schema"]["type"][0] in ("string", "number", "integer", "boolean")


PROVIDERS_MANAGER_PROBE = r"""
import json, sys, warnings
# Import first: airflow routes warnings to logging when it loads, which would bypass the recorder.
from airflow.providers_manager import ProvidersManager
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pm = ProvidersManager()
    providers = pm.providers
    ui_first = [m.hook_name for m in pm.iter_connection_type_hook_ui_metadata()
                if m.connection_type == "probable_futures"]
    hook_imported_for_ui = "pf_provider.airflow.hooks" in sys.modules
    hook = pm.hooks["probable_futures"]
    behaviour = pm.field_behaviours["probable_futures"]
    widgets = {k: v.field for k, v in pm.connection_form_widgets.items() if k.startswith("extra__probable_futures__")}
    ui = [m for m in pm.iter_connection_type_hook_ui_metadata() if m.connection_type == "probable_futures"]
    # What the api-server does: FAB/WTForms mocked in, so a hook defining the deprecated
    # get_connection_form_widgets() would be called here, and warned about.
    mocked_hooks, _, _ = HookMetaService._get_hooks_with_mocked_fab()
    mocked_hook_name = mocked_hooks["probable_futures"].hook_name
ours = [
    f"{w.category.__name__}: {w.message}" for w in caught
    if "pf_provider" in str(w.message) or "ProbableFutures" in str(w.message) or "pf_provider" in (w.filename or "")
]
print(json.dumps({
    "version": providers["pf-provider"].version,
    "hook_name": hook.hook_name,
    "hook_class": hook.hook_class_name,
    "conn_id_attr": hook.connection_id_attribute_name,
    "behaviour": behaviour,
    "widgets": widgets,
    "ui": [m.hook_name for m in ui],
    "ui_first": ui_first,
    "mocked_hook_name": mocked_hook_name,
    "hook_imported_for_ui": hook_imported_for_ui,
    "warnings": ours,
    "all_warnings": len(caught),
}))
"""


def test_the_hook_has_no_deprecated_form_methods() -> None:
    from pf_provider.airflow.hooks import ProbableFuturesHook

    # Airflow 3.2+ warns when a hook class defines these itself; the form is declarative.
    assert "get_connection_form_widgets" not in ProbableFuturesHook.__dict__
    assert "get_ui_field_behaviour" not in ProbableFuturesHook.__dict__
    assert ProbableFuturesHook.conn_name_attr == "probable_futures_conn_id"
    assert ProbableFuturesHook.default_conn_name == "probable_futures_default"
    assert ProbableFuturesHook.conn_type == "probable_futures"
    assert ProbableFuturesHook.hook_name == "Probable Futures"


def test_providers_manager_lists_the_connection_type_without_warnings(airflow_db: Path) -> None:
    result = _python(PROVIDERS_MANAGER_PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["version"] == "0.1.0"
    assert report["hook_name"] == "Probable Futures"
    assert report["hook_class"] == "pf_provider.airflow.hooks.ProbableFuturesHook"
    assert report["conn_id_attr"] == "probable_futures_conn_id"
    assert report["ui"] == report["ui_first"] == ["Probable Futures"]
    assert report["mocked_hook_name"] == "Probable Futures"
    assert report["hook_imported_for_ui"] is False  # the form comes from metadata, not from the hook
    behaviour = report["behaviour"]
    assert behaviour["relabeling"] == {
        "login": "Client ID",
        "password": "Client Secret",
        "host": "API URL",
        "port": "Port",
    }
    assert {"schema"} <= set(behaviour["hidden_fields"])
    assert "port" not in behaviour["hidden_fields"], "Airflow 3.3.2's Test button needs a stored port"
    assert behaviour["placeholders"]["host"] == "https://graphql.probablefutures.org"
    assert set(report["widgets"]) == {f"extra__probable_futures__{name}" for name in EXPECTED_EXTRA_FIELDS}
    assert report["widgets"]["extra__probable_futures__ca_bundle"]["schema"]["title"] == "CA bundle path"
    assert report["all_warnings"] > 0  # the recorder works: Airflow warns about its own deprecations
    assert report["warnings"] == [], report["warnings"]
    logged = [line for line in result.stderr.splitlines() if "pf_provider" in line or "pf-provider" in line]
    assert logged == [], logged


def test_api_server_hook_meta_lists_the_form(api_server: str) -> None:
    answer = requests.get(f"{api_server}/ui/connections/hook_meta", timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    (meta,) = [m for m in answer.json() if m["connection_type"] == "probable_futures"]
    assert meta["hook_name"] == "Probable Futures"
    assert meta["hook_class_name"] == "pf_provider.airflow.hooks.ProbableFuturesHook"
    standard = meta["standard_fields"]
    assert standard["login"]["title"] == "Client ID"
    assert standard["password"]["title"] == "Client Secret"
    assert standard["host"]["title"] == "API URL"
    assert standard["host"]["placeholder"] == "https://graphql.probablefutures.org"
    assert standard["url_schema"]["hidden"] is True
    assert standard["port"]["hidden"] is False
    extra = meta["extra_fields"]
    assert set(extra) == EXPECTED_EXTRA_FIELDS
    assert extra["timeout"]["schema"]["title"] == "Read timeout (seconds)"
    assert extra["allow_unknown_datasets"]["value"] is False
