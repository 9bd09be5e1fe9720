"""Run the Prefect portfolio flow against a running API (the emulator, in the main job).

    PF_API_URL=http://127.0.0.1:8400 PF_CLIENT_ID=demo-client-id PF_CLIENT_SECRET=... \\
        python scripts/demo_prefect.py output/ [--dask-workers 2]

Everything Prefect needs is throwaway: a temporary PREFECT_HOME, a temporary Prefect
server (SQLite) on loopback, a credentials block and the global rate limit saved on it.
Nothing touches a Prefect server or profile you may already have. The flow writes to
``<output>/portfolio/<today>/``; a short summary is printed at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_examples" / "prefect"


def _isolate_prefect() -> str:
    """A fresh PREFECT_HOME and no outside server or profile; must run before Prefect is imported."""
    home = tempfile.mkdtemp(prefix="pf-demo-prefect-")
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        os.environ.pop(name, None)
    os.environ["PREFECT_HOME"] = home
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Prefect portfolio flow against PF_API_URL")
    parser.add_argument("output_dir", help="folder for the flow's output (created if missing)")
    parser.add_argument("--dask-workers", type=int, default=0, help="run the shards on N local Dask worker processes")
    args = parser.parse_args(argv)

    missing = [name for name in ("PF_API_URL", "PF_CLIENT_ID", "PF_CLIENT_SECRET") if not os.environ.get(name)]
    if missing:
        parser.error(f"set {', '.join(missing)} (the API URL and the credentials to use)")
    if args.dask_workers < 0:
        parser.error("--dask-workers must be 0 (threads) or more")

    home = _isolate_prefect()
    try:
        return _run(Path(args.output_dir), args.dask_workers)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _drain() -> None:
    """Send the logs and events still queued, while the server is up (else exit waits on retries)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    EventsWorker.drain_all()


def _run(output_dir: Path, dask_workers: int) -> int:
    import prefect.settings
    from prefect.server.api.server import SubprocessASGIServer

    from pf_provider.prefect import ProbableFuturesCredentials
    from pf_provider.prefect.rate_limit import ensure_rate_limit

    sys.path.insert(0, str(EXAMPLES))
    import portfolio_flow as example

    logging.getLogger("distributed").setLevel(logging.WARNING)  # Dask's cluster chatter
    server = SubprocessASGIServer()
    server.start(timeout=120)
    # Dask worker processes read the API URL from their environment.
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with prefect.settings.temporary_settings({prefect.settings.PREFECT_API_URL: server.api_url}):
            ProbableFuturesCredentials(
                client_id=os.environ["PF_CLIENT_ID"],
                client_secret=os.environ["PF_CLIENT_SECRET"],
                api_url=os.environ["PF_API_URL"],
            ).save(example.CREDENTIALS_BLOCK, overwrite=True)
            limit = ensure_rate_limit()
            target = example.portfolio_flow
            if dask_workers:
                target = target.with_options(task_runner=example.dask_task_runner(n_workers=dask_workers))
            state = target(output_dir=str(output_dir), global_rate_limit=limit.name, return_state=True)
            if not state.is_completed():
                print(f"The Prefect portfolio flow ended {state.type.value}: {state.message}", file=sys.stderr)
                return 1
            summary = state.result()
            _drain()
    finally:
        server.stop()

    runner = f"Dask, {dask_workers} workers" if dask_workers else "threads"
    fetched = f"{summary['fetched_sites']} fetched of {summary['sites']}, {summary['rejected_sites']} rejected"
    pacing = f"{limit.limit} slots, {limit.slot_decay_per_second:.3f}/s"
    print()
    print(f"Prefect portfolio flow ({runner}):")
    print(f"  run date        {summary['run_date']}")
    print(f"  sites           {fetched}")
    print(f"  rows            {summary['rows']} -> {summary['output']}")
    print(f"  threshold met   {', '.join(summary['crossings']) or 'none'}")
    print(f"  rate limit      Prefect global limit {limit.name!r} ({pacing})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
