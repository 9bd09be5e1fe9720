"""Prefect tasks over the core client and the bulk engine.

Each task is a thin wrapper: it turns a credentials block (or a block's name) into the
process's cached client and calls the core. Design choices shared by all of them:

- Retries: the client already retries connection errors, 5xx answers and 429s with
  backoff (five tries, twenty rate-limit waits). The tasks add one retry, a minute later,
  and only when the client gave up on a transient failure (:class:`TransportError`,
  :class:`RateLimitError`): at most ten tries of a request in all, never a storm. Bad
  input, refused credentials and GraphQL errors fail at once.
- Caching: ``cache_policy=NONE``. No cache key is computed, so none is derived from the
  credentials; a task that must skip work on rerun uses the engine's resume instead.
- Results: plain JSON (lists and dicts of numbers and text) with the JSON serializer, so
  persisted results are readable and never hold the client, the secret or a token.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State, TaskRun

from ..client import ProbableFuturesClient
from ..errors import ConfigurationError, RateLimitError, TransportError
from .credentials import ProbableFuturesCredentials

TASK_RETRIES = 1
TASK_RETRY_DELAY_SECONDS = 60.0
_TRANSIENT_ERRORS = (TransportError, RateLimitError)


def retry_on_transient_error(task: Any, task_run: TaskRun, state: State) -> bool:
    """Retry the task only if the client ran out of retries on a transient failure."""
    try:
        state.result(raise_on_failure=True)
    except _TRANSIENT_ERRORS:
        return True
    except BaseException:
        return False
    return False


def resolve_credentials(credentials: ProbableFuturesCredentials | str) -> ProbableFuturesCredentials:
    """The block itself, or the saved block of that name (loaded from the Prefect API)."""
    if isinstance(credentials, ProbableFuturesCredentials):
        return credentials
    if isinstance(credentials, str) and credentials.strip():
        return ProbableFuturesCredentials.load(credentials.strip())
    raise ConfigurationError(
        "credentials must be a ProbableFuturesCredentials block or the name of a saved one, "
        f"got {type(credentials).__name__}"
    )


def client_for(
    credentials: ProbableFuturesCredentials | str, global_rate_limit: str | None = None
) -> ProbableFuturesClient:
    """The process's cached client; checks the global rate limit exists before any request."""
    block = resolve_credentials(credentials)
    if global_rate_limit is not None:
        from .rate_limit import check_rate_limit

        check_rate_limit(global_rate_limit)
    return block.get_client(global_rate_limit=global_rate_limit)


_TASK_OPTIONS: dict[str, Any] = {
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAY_SECONDS,
    "retry_condition_fn": retry_on_transient_error,
    "cache_policy": NONE,
    "result_serializer": "json",
}


@task(name="get-dataset-statistics", **_TASK_OPTIONS)
def get_dataset_statistics(
    credentials: ProbableFuturesCredentials | str,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    country: str | None = None,
    city: str | None = None,
    address: str | None = None,
    warming_scenario: Any = None,
    dataset_id: Any = None,
    fields: Iterable[str] | str | None = None,
    global_rate_limit: str | None = None,
) -> list[dict[str, Any]]:
    """Statistics for one point or place, one JSON-safe dict per dataset and scenario.

    Arguments are those of ``ProbableFuturesClient.get_dataset_statistics``; bad input
    fails before any request. ``global_rate_limit`` names a Prefect rate limit shared by
    every worker (see ``docs/prefect.md``).
    """
    client = client_for(credentials, global_rate_limit)
    rows = client.get_dataset_statistics(
        latitude=latitude,
        longitude=longitude,
        country=country,
        city=city,
        address=address,
        warming_scenario=warming_scenario,
        dataset_id=dataset_id,
        fields=fields,
    )
    get_run_logger().info("Fetched %d statistics rows", len(rows))
    return [row.to_dict() for row in rows]


@task(name="execute-graphql", **_TASK_OPTIONS)
def execute_graphql(
    credentials: ProbableFuturesCredentials | str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    validate: bool = True,
    global_rate_limit: str | None = None,
) -> dict[str, Any]:
    """Run one GraphQL document (checked against the schema first) and return its ``data``."""
    client = client_for(credentials, global_rate_limit)
    return client.execute(query, variables, operation_name=operation_name, validate=validate)


@task(name="extract-statistics", **_TASK_OPTIONS)
def extract_statistics(
    credentials: ProbableFuturesCredentials | str,
    sites: str | os.PathLike[str] | Iterable[Any],
    out: str | os.PathLike[str],
    *,
    datasets: Any = None,
    scenarios: Any = None,
    include_values: bool = False,
    batch_size: int = 25,
    concurrency: int = 2,
    resume: bool = True,
    format: str | None = None,
    global_rate_limit: str | None = None,
) -> dict[str, Any]:
    """Fetch every site into ``out`` with the bulk engine and return its summary as a dict.

    ``sites`` is a CSV path or a list of mappings (``site_id`` plus latitude/longitude or
    country/city/address). The engine is resumable: a retry of this task, or a rerun with
    the same ``out``, fetches only the sites still missing. Rejected sites go to
    ``<out>.rejects.jsonl`` with the reason.
    """
    from ..extract import extract

    client = client_for(credentials, global_rate_limit)
    summary = extract(
        client,
        os.fspath(sites) if isinstance(sites, os.PathLike) else sites,
        out,
        datasets=datasets,
        scenarios=scenarios,
        include_values=include_values,
        batch_size=batch_size,
        concurrency=concurrency,
        resume=resume,
        format=format,
    ).to_dict()
    get_run_logger().info(
        "Extracted %d rows for %d sites (%d skipped as already done, %d rejected) into %s",
        summary["rows_written"],
        summary["fetched_sites"],
        summary["skipped_sites"],
        summary["rejected_sites"],
        summary["output"],
    )
    return summary
