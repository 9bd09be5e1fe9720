"""TaskFlow with the Probable Futures hook: how much hotter does a place get at 3 °C than at 1.5 °C?

``fetch_statistics`` uses ``ProbableFuturesHook`` inside a ``@task``: the hook reads the
``probable_futures_default`` connection and fetches its token when the task runs, never
while the DAG file is parsed. Only JSON-safe dicts travel through XCom, never the client.
``climate_zone`` shows ``ProbableFuturesGraphQLOperator`` with templated variables.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from pf_provider.airflow.hooks import ProbableFuturesHook
from pf_provider.airflow.operators import ProbableFuturesGraphQLOperator

DATASETS = [40101, 40104, 40301]  # average temperature, days above 32 °C, days above 26 °C wet-bulb
FIELDS = ["name", "unit", "low_value", "mid_value", "high_value", "latitude", "longitude"]

CLIMATE_ZONE_QUERY = """
mutation ClimateZone($input: GetDatasetStatisticsInput!) {
  getDatasetStatistics(input: $input) {
    datasetStatisticsResponses { datasetId warmingScenario midValue info latitude longitude }
  }
}
"""


@dag(
    dag_id="pf_taskflow_hook",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["probable-futures", "example"],
    params={
        "latitude": Param(48.8566, type="number", minimum=-90, maximum=90),
        "longitude": Param(2.3522, type="number", minimum=-180, maximum=180),
    },
    doc_md=__doc__,
)
def pf_taskflow_hook() -> None:
    @task
    def fetch_statistics(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = params or {}
        with ProbableFuturesHook() as hook:
            rows = hook.get_dataset_statistics(
                latitude=params["latitude"],
                longitude=params["longitude"],
                dataset_id=DATASETS,
                warming_scenario=["1.5", "3.0"],
                fields=FIELDS,
            )
        return [{k: v for k, v in row.to_dict().items() if v is not None} for row in rows]

    @task
    def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Mid value at 3.0 °C minus at 1.5 °C, per dataset."""
        by_key = {(r["dataset_id"], r["warming_scenario"]): r for r in rows}
        changes = {}
        for dataset_id in DATASETS:
            low, high = by_key.get((dataset_id, "1.5")), by_key.get((dataset_id, "3.0"))
            if low and high and low.get("mid_value") is not None and high.get("mid_value") is not None:
                changes[str(dataset_id)] = {
                    "name": low.get("name"),
                    "unit": low.get("unit"),
                    "at_1.5": low["mid_value"],
                    "at_3.0": high["mid_value"],
                    "change": round(high["mid_value"] - low["mid_value"], 3),
                }
        for item in changes.values():
            print(f"{item['name']}: {item['at_1.5']} -> {item['at_3.0']} {item['unit']} ({item['change']:+})")
        return changes

    climate_zone = ProbableFuturesGraphQLOperator(
        task_id="climate_zone",
        query=CLIMATE_ZONE_QUERY,
        variables=(
            '{"input": {"latitude": {{ params.latitude }}, "longitude": {{ params.longitude }}, '
            '"datasetId": 40901, "warmingScenario": ["1.5", "3.0"]}}'
        ),
    )

    rows = fetch_statistics()
    compare(rows)
    rows >> climate_zone


pf_taskflow_hook()
