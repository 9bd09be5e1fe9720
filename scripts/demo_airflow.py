#!/usr/bin/env python
"""Run the example portfolio DAG once, on a throwaway Airflow 3, against a Probable Futures API.

Usage (after starting the emulator, e.g. ``python -m pf_provider.emulator``)::

    PF_API_URL=http://127.0.0.1:8765 PF_CLIENT_ID=demo-client-id PF_CLIENT_SECRET=... \\
        .venv/bin/python scripts/demo_airflow.py /tmp/pf-demo [--logical-date 2026-11-01]

It creates a temporary AIRFLOW_HOME with a SQLite metadata DB (``airflow db migrate``),
gives the credentials to Airflow as ``AIRFLOW_CONN_PROBABLE_FUTURES_DEFAULT`` in JSON form
and the output directory as the Variable ``pf_provider_output_dir``, runs
``airflow dags test pf_portfolio_monthly <date>``, and prints what the run wrote. The
secret only travels in the environment of the Airflow processes; nothing here prints or
writes it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "pf_portfolio_monthly"
AIRFLOW = Path(sys.executable).parent / "airflow"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="where the run writes portfolio/<date>/statistics.jsonl")
    parser.add_argument(
        "--logical-date",
        default=date.today().replace(day=1).isoformat(),
        help="the run's logical date, YYYY-MM-DD (default: the first day of this month)",
    )
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary AIRFLOW_HOME (for its DB)")
    return parser.parse_args(argv)


def _credentials() -> tuple[str, str, str]:
    missing = [name for name in ("PF_API_URL", "PF_CLIENT_ID", "PF_CLIENT_SECRET") if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"set {', '.join(missing)}: the API URL (e.g. the emulator's http://127.0.0.1:PORT) and the "
            "client ID and secret to use"
        )
    return os.environ["PF_API_URL"], os.environ["PF_CLIENT_ID"], os.environ["PF_CLIENT_SECRET"]


def _airflow_env(home: Path, output_dir: Path, api_url: str, client_id: str, client_secret: str) -> dict[str, str]:
    """A clean environment: this machine's own Airflow settings must not leak into the demo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PF_CLIENT_SECRET"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags_examples"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW_VAR_PF_PROVIDER_OUTPUT_DIR": str(output_dir),
            "AIRFLOW_CONN_PROBABLE_FUTURES_DEFAULT": json.dumps(
                {"conn_type": "probable_futures", "login": client_id, "password": client_secret, "host": api_url}
            ),
        }
    )
    return env


def _run(args: list[str], env: dict[str, str], log: Path, secret: str) -> None:
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ airflow {' '.join(args)}\n")
        handle.flush()
        result = subprocess.run([str(AIRFLOW), *args], env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=900)
    if result.returncode != 0:
        tail = log.read_text("utf-8", errors="replace").splitlines()[-40:]
        text = "\n".join(tail).replace(secret, "***")
        raise SystemExit(f"airflow {' '.join(args)} failed (exit {result.returncode}); last lines:\n{text}")


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(argv)
    api_url, client_id, client_secret = _credentials()
    try:
        logical_date = datetime.strptime(options.logical_date, "%Y-%m-%d").replace(tzinfo=timezone.utc).date()
    except ValueError:
        raise SystemExit(f"--logical-date must look like 2026-11-01, got {options.logical_date!r}") from None
    if not AIRFLOW.exists():
        raise SystemExit(
            f"{AIRFLOW} not found: install the project with its airflow extra (pip install -e '.[airflow]')"
        )
    output_dir = options.output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="pf-airflow-demo-"))
    env = _airflow_env(home, output_dir, api_url, client_id, client_secret)
    log = home / "airflow.log"
    started = time.monotonic()
    try:
        print(f"Airflow home (throwaway, SQLite): {home}")
        _run(["db", "migrate"], env, log, client_secret)
        print(f"Running {DAG_ID} for {logical_date} against {api_url} ...")
        _run(["dags", "test", DAG_ID, logical_date.isoformat()], env, log, client_secret)
        summary_path = output_dir / "portfolio" / logical_date.isoformat() / "summary.json"
        if not summary_path.exists():
            raise SystemExit(f"the run finished but wrote no {summary_path}; see {log}")
        summary = json.loads(summary_path.read_text("utf-8"))
    finally:
        if not options.keep_home:
            shutil.rmtree(home, ignore_errors=True)

    print(f"Done in {time.monotonic() - started:.0f} s.")
    print(f"  rows written:   {summary['rows']} ({summary['sites']} sites, {summary['rejected_sites']} rejected)")
    print(f"  output:         {summary['output']}")
    print(f"  summary:        {summary_path}")
    print(f"  sites crossing a threshold: {summary['sites_with_crossings']} of {summary['sites']}")
    for site_id, crossings in summary["crossings"].items():
        worst = max(crossings, key=lambda c: c["mid_value"] / c["threshold"] if c["threshold"] else 0)
        datasets = sorted({c["dataset_id"] for c in crossings})
        print(
            f"    {site_id:<16} {len(datasets)} dataset(s) {datasets}; e.g. {worst['name']} at "
            f"{worst['warming_scenario']} °C: {worst['mid_value']:g} {worst['unit']} (threshold {worst['threshold']:g})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
