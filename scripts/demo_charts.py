"""Demo: percentile charts of one dataset for every sample site, next to the data they come from.

    python scripts/demo_charts.py OUT_DIR [--dataset 40104] [--docs]

1. extracts the dataset's 101 percentiles under the six warming scenarios for the sites in
   dags_examples/data/portfolio_sites.csv with the bulk engine (OUT_DIR/percentiles-<id>.jsonl);
2. draws one chart per site from that file (OUT_DIR/<id>-<site_id>.png);
3. writes and prints a summary table (median year per scenario, OUT_DIR/summary-<id>.csv);
4. with --docs, also writes the chart of one site to docs/img/demo-chart.png.

Credentials come from PF_API_URL, PF_CLIENT_ID and PF_CLIENT_SECRET (scripts/demo.py points
them at its emulator). Without PF_CLIENT_ID, an emulator is started here on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pf_provider import ProbableFuturesClient, catalog
from pf_provider.charts import (
    WARMING_SCENARIOS,
    default_title,
    percentile_curves,
    plot_percentile_curves,
    summary_table,
)
from pf_provider.extract import extract

ROOT = Path(__file__).resolve().parent.parent
SITES = ROOT / "dags_examples" / "data" / "portfolio_sites.csv"
DOCS_CHART = ROOT / "docs" / "img" / "demo-chart.png"
DEFAULT_DATASET = 40104  # days above 32 °C (90 °F)
DEFAULT_DOCS_SITE = "phx-solar"


@contextlib.contextmanager
def api() -> Iterator[tuple[str, str, str]]:
    """(api_url, client_id, client_secret) from the environment, or from an emulator started here."""
    client_id = os.environ.get("PF_CLIENT_ID")
    if client_id:
        yield os.environ.get("PF_API_URL") or "", client_id, os.environ.get("PF_CLIENT_SECRET", "")
        return
    from pf_provider.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig()) as emulator:
        print(f"(PF_CLIENT_ID is not set: using an emulator at {emulator.url})")
        yield emulator.url, emulator.client_id, emulator.client_secret


def site_names() -> dict[str, str]:
    with SITES.open(newline="", encoding="utf-8-sig") as handle:
        return {row["site_id"]: row.get("name") or row["site_id"] for row in csv.DictReader(handle)}


def rows_by_site(path: Path) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                grouped.setdefault(row["site_id"], []).append(row)
    return grouped


def write_summary_csv(path: Path, grouped: dict[str, list[dict[str, Any]]], names: dict[str, str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["site_id", "name", "cell_latitude", "cell_longitude", *(f"median_{s}" for s in WARMING_SCENARIOS)]
        )
        for site_id, rows in grouped.items():
            mids = {r["warming_scenario"]: r["mid_value"] for r in rows}
            writer.writerow(
                [site_id, names.get(site_id, site_id), rows[0]["latitude"], rows[0]["longitude"]]
                + [mids.get(s, "") for s in WARMING_SCENARIOS]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="directory for the data, the charts and the summary")
    parser.add_argument("--dataset", type=int, default=DEFAULT_DATASET, help=f"dataset id (default {DEFAULT_DATASET})")
    parser.add_argument("--docs", action="store_true", help=f"also write one chart to {DOCS_CHART.relative_to(ROOT)}")
    parser.add_argument("--docs-site", default=DEFAULT_DOCS_SITE, help="the site whose chart goes into the docs")
    args = parser.parse_args()
    dataset = catalog.get_dataset(args.dataset)
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = out_dir / f"percentiles-{dataset.dataset_id}.jsonl"

    with api() as (api_url, client_id, client_secret):
        options = {"api_url": api_url} if api_url else {}
        with ProbableFuturesClient(client_id, client_secret, **options) as client:
            summary = extract(
                client, SITES, data, datasets=[dataset.dataset_id], include_values=True, resume=False
            ).to_dict()
    print(
        f"{dataset.map_name} ({dataset.dataset_id}): {summary['rows_written']} rows with their 101 percentiles "
        f"for {summary['fetched_sites']} sites in {summary['requests']} request(s) -> {data}"
    )
    if summary["rejected_sites"]:
        print(f"{summary['rejected_sites']} site(s) rejected, reasons in {summary['rejects']}")

    names = site_names()
    grouped = rows_by_site(data)
    charts: dict[str, Path] = {}
    for site_id, rows in grouped.items():
        curves = percentile_curves(rows)
        title = default_title(curves, names.get(site_id, site_id))
        charts[site_id] = plot_percentile_curves(rows, out_dir / f"{dataset.dataset_id}-{site_id}.png", title=title)
    print(f"{len(charts)} charts (one per site, one line per warming scenario) in {out_dir}")

    table = out_dir / f"summary-{dataset.dataset_id}.csv"
    write_summary_csv(table, grouped, names)
    print()
    print(summary_table([row for rows in grouped.values() for row in rows], names=names))
    print(f"(also in {table})")

    if args.docs:
        source = charts.get(args.docs_site) or next(iter(charts.values()), None)
        if source is None:
            print("no chart was drawn, so none goes into the docs", file=sys.stderr)
            return 1
        DOCS_CHART.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, DOCS_CHART)
        print(f"docs chart: {source.name} -> {DOCS_CHART.relative_to(ROOT)}")
    return 0 if charts else 1


if __name__ == "__main__":
    sys.exit(main())
