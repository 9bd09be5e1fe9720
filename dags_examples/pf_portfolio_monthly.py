"""Monthly climate-risk refresh of a portfolio of sites, with the Probable Futures provider.

run_directory       picks this run's directory, keyed by the logical date
shard_sites         reads the sites CSV and splits it into shards
extract_statistics  one mapped task per shard (in the ``probable_futures`` pool), each
                    writing its rows to a part file with the resumable bulk engine
combine             merges the parts into ``<base>/portfolio/<logical date>/statistics.jsonl``
                    (written aside, then renamed: a rerun of the same date overwrites it)
summarize           per site, the datasets whose mid value crosses the threshold

Setup: a ``probable_futures_default`` connection (login = client ID, password = client
secret) and a pool: ``airflow pools set probable_futures 2 "Probable Futures API"`` (see
docs/airflow.md for sizing it to the API's 100 requests a minute). The output base
directory is the Airflow Variable ``pf_provider_output_dir``, else the environment
variable ``PF_PROVIDER_OUTPUT_DIR``, else ``/tmp/pf_provider_output``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, Variable, dag, get_current_context, task

from pf_provider.airflow.operators import ProbableFuturesDatasetStatisticsOperator

SITES_CSV = str(Path(__file__).parent / "data" / "portfolio_sites.csv")
POOL = "probable_futures"
DEFAULT_OUTPUT_DIR = "/tmp/pf_provider_output"
# Each mapped task writes its own part file under the run's directory (rendered at run time).
PART_PATH = "{{ ti.xcom_pull(task_ids='run_directory') }}/parts/part-{{ '%04d' % ti.map_index }}.jsonl"

# Datasets the risk team tracks, and the mid value (median/average year) that flags a site.
THRESHOLDS = {
    "40104": 30.0,  # Days above 32°C (90°F): a month or more of very hot days a year
    "40301": 10.0,  # Days above 26°C (78°F) wet-bulb: outdoor work becomes dangerous
    "40702": 25.0,  # Likelihood of year-plus drought (%)
    "40704": 10.0,  # Change in wildfire danger days (days a year more than 1972-2000)
}


def _output_base() -> Path:
    """Where runs write: the Airflow Variable, else the environment, else /tmp (read at run time only)."""
    fallback = os.environ.get("PF_PROVIDER_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR
    return Path(Variable.get("pf_provider_output_dir", default=fallback))


def _run_date() -> str:
    """The run's logical date (a manual run without one uses when it was due)."""
    context = get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.strftime("%Y-%m-%d")


@dag(
    dag_id="pf_portfolio_monthly",
    schedule="@monthly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["probable-futures", "example"],
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    params={
        "sites_csv": Param(SITES_CSV, type="string", description="CSV with site_id and a location per row"),
        "shard_size": Param(4, type="integer", minimum=1, maximum=1000, description="Sites per mapped task"),
        "warming_scenarios": Param(["1.5", "2.0", "3.0"], type="array", description="Warming scenarios (°C)"),
        "thresholds": Param(THRESHOLDS, type="object", description="Dataset id -> mid value that flags a site"),
    },
    doc_md=__doc__,
)
def pf_portfolio_monthly() -> None:
    @task
    def run_directory() -> str:
        """This run's directory, keyed by its logical date: a rerun of the date writes to the same place."""
        return str(_output_base() / "portfolio" / _run_date())

    @task
    def shard_sites(params: dict[str, Any] | None = None) -> list[list[dict[str, str]]]:
        """The sites CSV, split into shards of ``shard_size`` sites (one mapped task each)."""
        params = params or {}
        with open(params["sites_csv"], newline="", encoding="utf-8-sig") as handle:
            sites = [{k: v for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(handle)]
        if not sites:
            raise ValueError(f"{params['sites_csv']} lists no sites")
        size = int(params["shard_size"])
        return [sites[i : i + size] for i in range(0, len(sites), size)]

    run_dir = run_directory()

    extracted = ProbableFuturesDatasetStatisticsOperator.partial(
        task_id="extract_statistics",
        pool=POOL,
        dataset_ids=[int(d) for d in THRESHOLDS],
        warming_scenarios="{{ params.warming_scenarios | tojson }}",
        output_path=PART_PATH,
        on_reject="skip",
    ).expand(locations=shard_sites())

    @task
    def combine(run_dir: str, parts: list[str]) -> dict[str, Any]:
        """Merge the part files into one statistics.jsonl for the run, replacing any earlier one."""
        directory = Path(run_dir)
        output = directory / "statistics.jsonl"
        staging = directory / "statistics.jsonl.tmp"
        rows = 0
        sites: set[str] = set()
        rejects: list[dict[str, Any]] = []
        # Index the lazy XCom sequence rather than iterate it: iterating probes one past the end.
        paths = sorted(parts[i] for i in range(len(parts)))
        with staging.open("w", encoding="utf-8") as out:
            for part in paths:
                with open(part, encoding="utf-8") as handle:
                    for line in handle:
                        if line.strip():
                            out.write(line if line.endswith("\n") else line + "\n")
                            sites.add(json.loads(line)["site_id"])
                            rows += 1
                rejected = Path(part + ".rejects.jsonl")
                if rejected.exists():
                    rejects.extend(json.loads(line) for line in rejected.read_text("utf-8").splitlines() if line)
        os.replace(staging, output)
        rejects_path = directory / "rejects.jsonl"
        if rejects:
            rejects_path.write_text("".join(json.dumps(r) + "\n" for r in rejects), encoding="utf-8")
        else:
            rejects_path.unlink(missing_ok=True)
        shutil.rmtree(directory / "parts", ignore_errors=True)
        return {"output": str(output), "rows": rows, "sites": len(sites), "rejected_sites": len(rejects)}

    @task
    def summarize(combined: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Per site, the datasets (and scenarios) whose mid value reaches the threshold."""
        thresholds = {int(k): float(v) for k, v in (params or {}).get("thresholds", THRESHOLDS).items()}
        crossings: dict[str, list[dict[str, Any]]] = {}
        with open(combined["output"], encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                limit = thresholds.get(row["dataset_id"])
                if limit is None or row["mid_value"] is None or row["mid_value"] < limit:
                    continue
                crossings.setdefault(row["site_id"], []).append(
                    {
                        "dataset_id": row["dataset_id"],
                        "name": row["name"],
                        "warming_scenario": row["warming_scenario"],
                        "mid_value": row["mid_value"],
                        "unit": row["unit"],
                        "threshold": limit,
                    }
                )
        summary = {
            "run_date": _run_date(),
            "output": combined["output"],
            "rows": combined["rows"],
            "sites": combined["sites"],
            "rejected_sites": combined["rejected_sites"],
            "sites_with_crossings": len(crossings),
            "crossings": dict(sorted(crossings.items())),
        }
        Path(combined["output"]).with_name("summary.json").write_text(json.dumps(summary, indent=2), "utf-8")
        for site_id, items in summary["crossings"].items():
            flagged = sorted({f"{c['name']} ({c['dataset_id']})" for c in items})
            print(f"{site_id}: {len(items)} crossings in {', '.join(flagged)}")
        return summary

    combined = combine(run_dir, extracted.output)
    run_dir >> extracted
    summarize(combined)


pf_portfolio_monthly()
