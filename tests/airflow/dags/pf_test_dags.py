"""DAGs used only by tests/airflow: they live in their own DAG bundle ("pf-tests").

Inputs come from params so that each test run can pass its own through ``run_conf``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from pf_provider.airflow.hooks import ProbableFuturesHook
from pf_provider.airflow.operators import (
    ProbableFuturesDatasetStatisticsOperator,
    ProbableFuturesGraphQLOperator,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")

POINT_QUERY = """
mutation Point($input: GetDatasetStatisticsInput!) {
  getDatasetStatistics(input: $input) { datasetStatisticsResponses { datasetId warmingScenario midValue unit } }
}
"""

with DAG(
    "pf_test_xcom",
    schedule=None,
    start_date=START,
    catchup=False,
    params={
        "locations": [{"latitude": 40.7128, "longitude": -74.006}],
        "dataset_ids": [40104],
        "warming_scenarios": ["1.5"],
        "latitude": 51.5,
        "longitude": -0.12,
    },
) as xcom_dag:
    ProbableFuturesDatasetStatisticsOperator(
        task_id="statistics",
        locations="{{ params.locations | tojson }}",
        dataset_ids="{{ params.dataset_ids | tojson }}",
        warming_scenarios="{{ params.warming_scenarios | tojson }}",
        on_reject="skip",
        xcom_warn_bytes=2_000,
    )
    ProbableFuturesGraphQLOperator(
        task_id="graphql",
        query=POINT_QUERY,
        variables=(
            '{"input": {"latitude": {{ params.latitude }}, "longitude": {{ params.longitude }}, '
            '"datasetId": 40101, "warmingScenario": ["2.0"]}}'
        ),
    )
    ProbableFuturesGraphQLOperator(
        task_id="graphql_file",
        query="point_query.graphql",  # read (and templated) from the DAG's folder
        variables={"input": {"latitude": 10.5, "longitude": 20.5, "datasetId": 40104}},
    )

with DAG(
    "pf_test_file",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"locations": "", "output_path": "", "dataset_ids": [40104, 40901]},
) as file_dag:
    ProbableFuturesDatasetStatisticsOperator(
        task_id="statistics",
        locations="{{ params.locations }}",
        dataset_ids="{{ params.dataset_ids | tojson }}",
        warming_scenario="3.0",
        output_path="{{ params.output_path }}",
    )

with DAG("pf_test_mapped", schedule=None, start_date=START, catchup=False) as mapped_dag:
    ProbableFuturesDatasetStatisticsOperator.partial(
        task_id="statistics",
        pool="probable_futures",
        dataset_ids=40104,
        warming_scenarios=["1.5", "3.0"],
    ).expand(
        locations=[
            [{"site_id": "a", "latitude": 10, "longitude": 10}, {"site_id": "b", "latitude": 20, "longitude": 20}],
            [{"site_id": "c", "country": "France", "city": "Paris"}],
            [[35.0, 139.0]],
        ]
    )

with DAG("pf_test_masking", schedule=None, start_date=START, catchup=False) as masking_dag:

    @task
    def show_token() -> dict[str, Any]:
        """Deliberately prints the token and the secret: the task log must show them masked."""
        hook = ProbableFuturesHook()
        client = hook.get_conn()
        token = client.get_access_token()
        secret = hook.get_connection(hook.probable_futures_conn_id).password
        print(f"printed token={token} secret={secret}")
        hook.log.info("logged token=%s secret=%s", token, secret)
        return {"client_id": client.client_id, "token_length": len(token)}

    show_token()
