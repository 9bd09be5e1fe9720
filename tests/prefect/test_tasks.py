"""The tasks in real flow runs against the emulator: results, retries, caching, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import TaskRun

from pf_provider import AuthenticationError, InvalidInputError, TransportError
from pf_provider.prefect import ProbableFuturesCredentials, execute_graphql, extract_statistics, get_dataset_statistics
from pf_provider.prefect.tasks import TASK_RETRIES, retry_on_transient_error

QUERY = """
mutation Stats($input: GetDatasetStatisticsInput!) {
  getDatasetStatistics(input: $input) { datasetStatisticsResponses { datasetId warmingScenario midValue } }
}
"""


def task_runs(flow_run_id: UUID) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def test_statistics_task_returns_json_rows_and_uses_no_cache_key(credentials, emulator):
    @flow
    def one_point(block: ProbableFuturesCredentials) -> list[dict[str, Any]]:
        return get_dataset_statistics(
            block, latitude=40.7, longitude=-73.9, warming_scenario=["1.5", "3.0"], dataset_id=40104
        )

    state = one_point(credentials, return_state=True)
    rows = state.result()
    assert [(r["dataset_id"], r["warming_scenario"]) for r in rows] == [(40104, "1.5"), (40104, "3.0")]
    assert all(isinstance(r["mid_value"], float) and len(r["values"]) == 101 for r in rows)
    assert json.loads(json.dumps(rows)) == rows, "results are plain JSON"
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.cache_key is None, "no cache key, so none derived from the credentials"
    assert run.run_count == 1
    assert emulator.stats.token_requests == 1 and emulator.stats.graphql_requests == 1


def test_graphql_task_by_block_name(credentials, emulator):
    @flow
    def raw(block_name: str) -> dict[str, Any]:
        return execute_graphql(
            block_name,
            QUERY,
            {"input": {"latitude": 51.5, "longitude": -0.1, "warmingScenario": ["2.0"], "datasetId": 40101}},
        )

    data = raw("probable-futures")
    (row,) = data["getDatasetStatistics"]["datasetStatisticsResponses"]
    assert row["datasetId"] == 40101 and row["warmingScenario"] == "2.0"


def test_extract_task_writes_rows_and_returns_the_engine_summary(credentials, emulator, tmp_path):
    sites = [
        {"site_id": "a", "latitude": 10.0, "longitude": 20.0},
        {"site_id": "b", "latitude": 95.0, "longitude": 20.0},  # invalid: rejected, not fatal
        {"site_id": "c", "latitude": -33.9, "longitude": 151.2},
    ]
    out = tmp_path / "rows.jsonl"

    @flow
    def bulk() -> dict[str, Any]:
        return extract_statistics(credentials, sites, str(out), datasets=[40104, 40901], scenarios=["2.0"])

    summary = bulk()
    assert summary["fetched_sites"] == 2 and summary["rejected_sites"] == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary["rows_written"] == 2 * 2
    assert {r["site_id"] for r in rows} == {"a", "c"}
    rejects = [json.loads(line) for line in Path(summary["rejects"]).read_text().splitlines()]
    assert [r["site_id"] for r in rejects] == ["b"] and "latitude" in rejects[0]["reason"]

    emulator.reset_stats()
    again = bulk()
    assert again["skipped_sites"] == 3 and again["rows_written"] == 0, "a rerun resumes: nothing to fetch"
    assert emulator.stats.graphql_requests == 0


def test_a_transient_failure_is_retried_once_by_the_task(credentials, emulator):
    fast = get_dataset_statistics.with_options(retry_delay_seconds=0)
    # The client tries each request five times; the sixth answer is the first good one.
    emulator.fail_next(5, status=503)

    @flow
    def flaky() -> list[dict[str, Any]]:
        return fast(credentials, latitude=1.35, longitude=103.8, warming_scenario="1.5", dataset_id=40104)

    state = flaky(return_state=True)
    assert len(state.result()) == 1
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 2 == TASK_RETRIES + 1
    assert emulator.stats.graphql_requests == 6


@pytest.mark.parametrize("case", ["bad input", "wrong secret"])
def test_permanent_failures_are_not_retried(case, prefect_server, emulator, canary_secret):
    secret = canary_secret if case == "bad input" else "not-the-secret"
    block = ProbableFuturesCredentials(client_id=emulator.client_id, client_secret=secret, api_url=emulator.url)
    fast = get_dataset_statistics.with_options(retry_delay_seconds=0)
    latitude = 200.0 if case == "bad input" else 10.0

    @flow
    def failing() -> list[dict[str, Any]]:
        return fast(block, latitude=latitude, longitude=10.0)

    state = failing(return_state=True)
    assert state.is_failed()
    expected = InvalidInputError if case == "bad input" else AuthenticationError
    with pytest.raises(expected):
        state.result()
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 1, "retrying cannot fix this"
    if case == "bad input":
        assert emulator.stats.total_requests == 0, "refused before any request"
    else:
        assert emulator.stats.token_requests == 1 and emulator.stats.graphql_requests == 0


def test_retry_condition_only_accepts_transient_errors():
    from prefect.states import Failed

    assert retry_on_transient_error(None, None, Failed(data=TransportError("HTTP 503 five times")))
    assert not retry_on_transient_error(None, None, Failed(data=AuthenticationError("refused")))
    assert not retry_on_transient_error(None, None, Failed(data=ValueError("bad")))


def test_a_missing_global_rate_limit_fails_before_any_request(credentials, emulator):
    from pf_provider import ConfigurationError

    @flow
    def limited() -> list[dict[str, Any]]:
        return get_dataset_statistics(credentials, latitude=1, longitude=2, global_rate_limit="no-such-limit")

    state = limited(return_state=True)
    with pytest.raises(ConfigurationError, match="prefect gcl create no-such-limit --limit 50"):
        state.result()
    assert emulator.stats.total_requests == 0
