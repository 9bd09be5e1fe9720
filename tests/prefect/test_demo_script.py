"""scripts/demo_prefect.py, as the README's main job runs it: a fresh process, a throwaway Prefect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_prefect.py"


def test_demo_runs_the_portfolio_flow_against_the_api(emulator, canary_secret, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PF_API_URL=emulator.url, PF_CLIENT_ID=emulator.client_id, PF_CLIENT_SECRET=canary_secret)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "out")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Prefect portfolio flow (threads):" in done.stdout
    assert "12 fetched of 12" in done.stdout
    (run_dir,) = (tmp_path / "out" / "portfolio").iterdir()
    rows = (run_dir / "statistics.jsonl").read_text().splitlines()
    assert f"{len(rows)} -> " in done.stdout and len(rows) == json.loads((run_dir / "summary.json").read_text())["rows"]
    for needle in (canary_secret, *emulator.issued_tokens):
        assert needle not in done.stdout and needle not in done.stderr
    assert emulator.stats.rate_limited == 0


def test_demo_says_what_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PF_", "PREFECT_"))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "PF_API_URL, PF_CLIENT_ID, PF_CLIENT_SECRET" in done.stderr
