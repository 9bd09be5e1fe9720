"""The main job: the demo pipelines against the embedded emulator.

1. start the emulator on loopback (the real service is not needed);
2. fetch a token and pull statistics for a few sample sites with the core client;
3. extract the whole sample portfolio with the bulk engine;
4. run the Airflow portfolio DAG and the Prefect portfolio flow against the same emulator;
5. draw the charts of the sample sites (when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from pf_provider import ProbableFuturesClient, catalog
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.extract import extract, read_sites

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "dags_examples" / "data" / "portfolio_sites.csv"
TABLE_DATASETS = (40101, 40104, 40613, 40901)


def _section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def core_demo(client: ProbableFuturesClient, out_dir: Path) -> None:
    _section("Core client: token and statistics for sample sites")
    client.get_access_token()
    expires = client.token_expires_at
    print(f"Token obtained for client ID {client.client_id!r}; it expires at {expires:%Y-%m-%d %H:%M} UTC")
    header = f"{'site':<14} {'dataset':<34} {'scenario':>8} {'low':>8} {'mid':>8} {'high':>8}  cell"
    print(header)
    print("-" * len(header))
    sites = [s for s in read_sites(SITES)][:4]
    for site in sites:
        rows = client.get_dataset_statistics(
            **site.location.to_input(), dataset_id=TABLE_DATASETS, warming_scenario=["1.5", "3.0"], fields=None
        )
        for row in rows:
            label = catalog.get_dataset(row.dataset_id).map_name[:33]
            mid = row.climate_zone_name[:8] if row.climate_zone_name else f"{row.mid_value:8.1f}"
            print(
                f"{site.site_id:<14} {label:<34} {row.warming_scenario:>8} {row.low_value:8.1f} {mid:>8} "
                f"{row.high_value:8.1f}  ({row.latitude:.2f}, {row.longitude:.2f})"
            )

    _section("Bulk engine: the whole sample portfolio")
    summary = extract(client, SITES, out_dir / "core" / "portfolio.jsonl", resume=False, progress_interval=60)
    info = summary.to_dict()
    print(
        f"{info['rows_written']} rows for {info['fetched_sites']} sites ({info['rejected_sites']} rejected) "
        f"in {info['requests']} requests -> {info['output']}"
    )


def run_adapter_demo(script: str, emulator: Emulator, out_dir: Path) -> bool:
    path = ROOT / "scripts" / script
    if not path.exists():
        print(f"({script} is not part of this checkout; skipped)")
        return True
    env = {
        **os.environ,
        "PF_API_URL": emulator.url,
        "PF_CLIENT_ID": emulator.client_id,
        "PF_CLIENT_SECRET": emulator.client_secret,
    }
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(path), str(out_dir)], env=env, cwd=ROOT)
    print(f"({script} finished in {time.monotonic() - started:.0f} s with exit code {done.returncode})")
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=str(ROOT / "output"), help="output directory (default ./output)")
    parser.add_argument("--skip-orchestrators", action="store_true", help="run the core demo only")
    args = parser.parse_args()
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    with Emulator(EmulatorConfig()) as emulator:
        _section("Emulator")
        print(f"Probable Futures emulator at {emulator.url} (demo client ID {emulator.client_id!r})")
        with ProbableFuturesClient(emulator.client_id, emulator.client_secret, emulator.url) as client:
            core_demo(client, out_dir)
        ok = True
        if not args.skip_orchestrators:
            _section("Airflow: the monthly portfolio DAG")
            ok &= run_adapter_demo("demo_airflow.py", emulator, out_dir / "airflow")
            _section("Prefect: the monthly portfolio flow")
            ok &= run_adapter_demo("demo_prefect.py", emulator, out_dir / "prefect")
        charts = ROOT / "scripts" / "demo_charts.py"
        if charts.exists():
            _section("Charts")
            ok &= run_adapter_demo("demo_charts.py", emulator, out_dir / "charts")
    _section("Done")
    print(f"Everything the demo wrote is under {out_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
