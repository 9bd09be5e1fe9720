"""``ProbableFuturesClient``: one session, one token, typed calls, batching.

Constructing a client sends nothing; the first call fetches the token. Every rule about
the wire (URL policy, timeouts, retries, pacing) lives in :mod:`pf_provider.transport`,
the token lifecycle in :mod:`pf_provider.auth`, input checks in
:mod:`pf_provider.validation` and parsing in :mod:`pf_provider.models`.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from . import documents
from .auth import DEFAULT_REFRESH_MARGIN, Secret, TokenManager
from .errors import (
    AuthenticationError,
    BatchError,
    ConfigurationError,
    GraphQLError,
    GraphQLErrorDetail,
    InvalidInputError,
    InvalidResponseError,
    PermissionDeniedError,
    ProbableFuturesError,
    TransportError,
)
from .models import DatasetStatistic, normalize_fields, parse_statistics_payload
from .ratelimit import RateLimiter, RateLimitStatus, shared_rate_limiter
from .transport import DEFAULT_API_URL, DEFAULT_TIMEOUT, RetryPolicy, Transport, normalize_api_url, normalize_timeout
from .validation import Location, coerce_location, normalize_dataset_ids, normalize_scenarios, validate_location

logger = logging.getLogger("pf_provider.client")

DEFAULT_MAX_BATCH_SIZE = 50
DEFAULT_MAX_REQUEST_BYTES = 90_000
"""The service parses bodies up to 100 kB (express.json's default); batches stay under it."""
_SHARED = object()


@dataclass(frozen=True)
class StatisticsQuery:
    """One validated ``getDatasetStatistics`` call: a location, scenarios, one dataset or all."""

    location: Location
    warming_scenarios: tuple[str, ...] | None = None
    dataset_id: int | None = None
    fields: tuple[str, ...] = normalize_fields(None)

    def variables(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.location.to_input()
        if self.warming_scenarios is not None:
            payload["warmingScenario"] = list(self.warming_scenarios)
        if self.dataset_id is not None:
            payload["datasetId"] = self.dataset_id
        return {"input": payload}

    def operation(self) -> dict[str, Any]:
        return {"query": documents.statistics_document(self.fields), "variables": self.variables()}


@dataclass(frozen=True)
class StatisticsResult:
    """The answer to one :class:`StatisticsQuery` of a batch: rows, or the error that replaced them."""

    query: StatisticsQuery
    rows: tuple[DatasetStatistic, ...] = ()
    error: ProbableFuturesError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def result_data(item: Any, index: int | None = None) -> Any:
    """The ``data`` of one GraphQL result, or raise its errors."""
    if not isinstance(item, dict):
        raise InvalidResponseError(f"a GraphQL result should be an object, got {type(item).__name__}")
    errors = item.get("errors")
    if errors:
        if not isinstance(errors, list):
            errors = [errors]
        raise GraphQLError([GraphQLErrorDetail.from_json(e) for e in errors], data=item.get("data"), index=index)
    if "data" not in item or not isinstance(item["data"], (dict, type(None))):
        raise InvalidResponseError("a GraphQL result has neither data nor errors")
    return item["data"]


def statistics_results(queries: Sequence[StatisticsQuery], answers: Sequence[Any]) -> list[StatisticsResult]:
    """Pair each query with its decoded answer: typed rows, or the error of that answer alone."""
    results = []
    for query, item in zip(queries, answers, strict=True):
        try:
            data = result_data(item)
            if not isinstance(data, dict) or "getDatasetStatistics" not in data:
                raise InvalidResponseError("a result lacks its getDatasetStatistics member")
            rows = parse_statistics_payload(data["getDatasetStatistics"])
            results.append(StatisticsResult(query, tuple(rows)))
        except (GraphQLError, InvalidResponseError) as exc:
            results.append(StatisticsResult(query, (), exc))
    return results


def _operation(op: Any) -> tuple[str, Mapping[str, Any] | None, str | None]:
    if isinstance(op, Mapping):
        return op.get("query"), op.get("variables"), op.get("operationName")
    if isinstance(op, (tuple, list)) and 1 <= len(op) <= 2:
        return op[0], (op[1] if len(op) == 2 else None), None
    if isinstance(op, str):
        return op, None, None
    raise InvalidInputError(
        f"a batched operation must be a query text, a (query, variables) pair or a mapping, got {type(op).__name__}"
    )


class ProbableFuturesClient:
    """A client of the Probable Futures GraphQL API.

    ``api_url`` must be https (plain http only on loopback, for the emulator). ``timeout``
    is seconds or ``(connect, read)``. ``retry`` bounds retries; ``rate_limiter`` paces
    requests (default: shared by every client of the same API URL in this process; pass
    ``None`` to switch pacing off). ``max_batch_size`` and ``max_request_bytes`` bound
    the operations and bytes of one batched request. ``ca_bundle`` adds a CA file; verification cannot be
    turned off. ``allow_unknown_datasets`` lets ids newer than the bundled catalog through.
    ``on_new_token`` is called with each new token (orchestrators register it with their
    log maskers).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | object | None = _SHARED,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        allow_unknown_datasets: bool = False,
        ca_bundle: str | None = None,
        on_new_token: Callable[[str], None] | None = None,
        pool_size: int = 16,
    ):
        if not isinstance(client_id, str) or not client_id.strip():
            raise ConfigurationError("client_id is empty; set the client ID Probable Futures issued you")
        if ":" in client_id:
            raise ConfigurationError("client_id must not contain ':' (HTTP Basic authentication splits on it)")
        if isinstance(client_secret, Secret):
            client_secret = client_secret.get_secret_value()
        if not isinstance(client_secret, str) or not client_secret.strip():
            raise ConfigurationError(f"the client secret for client ID {client_id.strip()!r} is empty")
        if not isinstance(max_batch_size, int) or isinstance(max_batch_size, bool) or max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be a positive integer, got {max_batch_size!r}")
        if not refresh_margin >= 0:
            raise ConfigurationError(f"refresh_margin must be >= 0 seconds, got {refresh_margin!r}")
        if ca_bundle and not (isinstance(ca_bundle, (str, os.PathLike)) and os.path.exists(ca_bundle)):
            raise ConfigurationError(
                f"ca_bundle {ca_bundle!r} is not an existing file or directory; give the path of the PEM file "
                "of the CA certificates to trust (it adds trust; certificate verification cannot be turned off)"
            )
        self.client_id = client_id.strip()
        self._secret = Secret(client_secret.strip())
        self.api_url = normalize_api_url(api_url)
        self.max_batch_size = max_batch_size
        self.max_request_bytes = max_request_bytes
        self.allow_unknown_datasets = allow_unknown_datasets
        limiter = shared_rate_limiter(self.api_url) if rate_limiter is _SHARED else rate_limiter
        if limiter is not None and not isinstance(limiter, RateLimiter):
            raise ConfigurationError("rate_limiter must be a RateLimiter or None")
        self._transport = Transport(
            timeout=normalize_timeout(timeout),
            retry=retry or RetryPolicy(),
            rate_limiter=limiter,
            ca_bundle=os.fspath(ca_bundle) if ca_bundle else None,
            pool_size=pool_size,
            rng=random.Random(),
        )
        self._graphql_url = self.api_url + "/graphql"
        self._tokens = TokenManager(
            client_id=self.client_id,
            client_secret=self._secret,
            token_url=self.api_url + "/auth/token",
            send=self._transport.send,
            refresh_margin=refresh_margin,
            on_new_token=on_new_token,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, api_url={self.api_url!r})"

    def __getstate__(self) -> Any:
        raise TypeError(
            "a ProbableFuturesClient holds credentials and cannot be pickled; pass the Airflow "
            "connection id or the Prefect block to the worker and build the client there"
        )

    def __enter__(self) -> ProbableFuturesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    # -- tokens ---------------------------------------------------------------------------

    def get_access_token(self) -> str:
        """The current bearer token, fetched on first use and refreshed before it expires."""
        return self._tokens.get_token().value

    @property
    def token_expires_at(self) -> datetime | None:
        """When the cached token expires (``None`` before the first call)."""
        token = self._tokens.current
        return token.expires_at if token is not None else None

    @property
    def token_requests(self) -> int:
        """How many token requests this client has sent."""
        return self._tokens.token_requests

    @property
    def rate_limit(self) -> RateLimitStatus | None:
        limiter = self._transport.rate_limiter
        return limiter.status() if limiter is not None else None

    @property
    def transport_stats(self) -> dict[str, int]:
        """Counters of this client's API requests (token requests excluded), retries and 429 waits."""
        return {
            "requests": self._transport.requests,
            "retries": self._transport.retries,
            "rate_limit_waits": self._transport.rate_limit_waits,
        }

    # -- raw GraphQL ----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for value in (self._secret.get_secret_value(), getattr(self._tokens.current, "value", None)):
            if value:
                text = text.replace(value, "***")
        return text

    def _post(self, body: Any, operations: int) -> Any:
        """POST a GraphQL body with the bearer token; one refresh-and-retry on 401."""
        try:
            data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the GraphQL variables are not JSON-serialisable: {exc}") from None
        for auth_attempt in (1, 2):
            token = self._tokens.get_token()
            response = self._transport.send(
                "POST",
                self._graphql_url,
                headers={"Authorization": f"Bearer {token.value}", "Content-Type": "application/json"},
                data=data,
            )
            if response.status_code == 401:
                reason = self._error_text(response)
                self._tokens.invalidate(token.value)
                if auth_attempt == 1:
                    logger.info("The API refused the access token (%s); fetching a new one", reason)
                    continue
                raise AuthenticationError(
                    f"the API refused a freshly issued token for client ID {self.client_id!r} ({reason})",
                    client_id=self.client_id,
                    status_code=401,
                )
            if response.status_code == 403:
                raise PermissionDeniedError(
                    f"the token of client ID {self.client_id!r} lacks the permission this call needs "
                    f"({self._error_text(response)}); ask Probable Futures for the statistics:read scope",
                    client_id=self.client_id,
                    status_code=403,
                )
            logger.debug("POST /graphql carried %d operation(s) -> HTTP %d", operations, response.status_code)
            return self._decode(response)
        raise AssertionError("unreachable")

    def _error_text(self, response: requests.Response) -> str:
        try:
            body = json.loads(response.content)
            if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
                text = str(GraphQLErrorDetail.from_json(body["errors"][0]).message)
            else:
                text = f"HTTP {response.status_code}"
        except (ValueError, UnicodeDecodeError, RecursionError):
            text = response.content[:120].decode("utf-8", "replace").strip() or f"HTTP {response.status_code}"
        return self._redact(text)[:200]

    def _decode(self, response: requests.Response) -> Any:
        status = response.status_code
        content = response.content
        for value in (self._secret.get_secret_value(), getattr(self._tokens.current, "value", None)):
            # A server that echoes a credential (in an error message, say) must not hand it
            # to exception texts and logs downstream.
            if value and value.encode() in content:
                content = content.replace(value.encode(), b"***")
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            kind = response.headers.get("Content-Type", "unknown")
            raise InvalidResponseError(
                f"/graphql answered HTTP {status} with a body that is not JSON (content type {kind!r}, "
                f"{len(response.content)} bytes)"
            ) from None
        if status == 200 or (status == 400 and isinstance(body, (dict, list))):
            return body
        raise TransportError(f"/graphql answered HTTP {status}", status_code=status)

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        validate: bool = True,
    ) -> dict[str, Any]:
        """Run one GraphQL document and return its ``data``.

        The document is checked locally first (``validate=False`` skips the schema check,
        not the syntax check). GraphQL errors raise :class:`GraphQLError` with every
        message, path and code.
        """
        documents.check_document(query, variables, validate=validate)
        body: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
        if operation_name:
            body["operationName"] = operation_name
        answer = self._post(body, 1)
        if isinstance(answer, list):
            raise InvalidResponseError("/graphql answered a list to a single operation")
        return result_data(answer, None) or {}

    def execute_batch(self, operations: Sequence[Any], *, validate: bool = True) -> list[dict[str, Any]]:
        """Run several operations with the server's query batching; results in order.

        Up to ``max_batch_size`` operations (and ``max_request_bytes``) travel in one HTTP
        request, counted once by the rate limit; more are split. If some fail, :class:`BatchError` carries the data of
        the others (``.results``) and each failure by index (``.failures``).
        """
        ops = []
        for op in operations:
            query, variables, name = _operation(op)
            documents.check_document(query, variables, validate=validate)
            entry: dict[str, Any] = {"query": query, "variables": dict(variables or {})}
            if name:
                entry["operationName"] = name
            ops.append(entry)
        results: list[Any] = []
        failures: dict[int, GraphQLError] = {}
        for start, end in self._chunks(ops):
            try:
                answers = self._post_batch(ops[start:end])
            except ProbableFuturesError as exc:
                exc.partial_results = results  # type: ignore[attr-defined]
                raise
            for offset, item in enumerate(answers):
                try:
                    results.append(result_data(item, start + offset))
                except GraphQLError as exc:
                    results.append(None)
                    failures[start + offset] = exc
        if failures:
            raise BatchError(results, failures)
        return results

    def _post_batch(self, chunk: list[dict[str, Any]]) -> list[Any]:
        answer = self._post(chunk, len(chunk))
        if isinstance(answer, dict) and answer.get("errors"):
            # The server rejected the whole batch (e.g. a body it could not read).
            raise GraphQLError([GraphQLErrorDetail.from_json(e) for e in answer["errors"]])
        if not isinstance(answer, list) or len(answer) != len(chunk):
            got = f"{len(answer)} results" if isinstance(answer, list) else f"a JSON {type(answer).__name__}"
            raise InvalidResponseError(f"a batch of {len(chunk)} operations was answered with {got}")
        return answer

    # -- typed calls -----------------------------------------------------------------------

    def statistics_queries(
        self,
        location: Location | Mapping[str, Any] | tuple[float, float],
        *,
        warming_scenario: Any = None,
        dataset_id: Any = None,
        fields: Iterable[str] | str | None = None,
    ) -> list[StatisticsQuery]:
        """Validated queries for one location: one per dataset id (one for all datasets)."""
        place = coerce_location(location)
        scenarios = normalize_scenarios(warming_scenario)
        ids = normalize_dataset_ids(dataset_id, allow_unknown=self.allow_unknown_datasets)
        chosen = normalize_fields(fields)
        return [StatisticsQuery(place, scenarios, d, chosen) for d in (ids or (None,))]

    def _chunks(self, operations: Sequence[dict[str, Any]]) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of consecutive operations per request: at most ``max_batch_size``
        operations and ``max_request_bytes`` of body."""
        start, size = 0, 2
        for index, operation in enumerate(operations):
            op_size = len(json.dumps(operation, separators=(",", ":"))) + 1
            if index > start and (index - start >= self.max_batch_size or size + op_size > self.max_request_bytes):
                yield start, index
                start, size = index, 2
            size += op_size
        if start < len(operations):
            yield start, len(operations)

    def fetch_statistics(self, queries: Sequence[StatisticsQuery]) -> list[StatisticsResult]:
        """Answer many queries in batched requests; a failed query does not fail the others.

        Errors of one query (GraphQL errors, malformed rows) land in its result. Errors of a
        whole request (transport, authentication) raise, with ``partial_results`` holding
        the results of the requests that already succeeded.
        """
        operations = [q.operation() for q in queries]
        results: list[StatisticsResult] = []
        for start, end in self._chunks(operations):
            try:
                answers = self._post_batch(operations[start:end])
            except ProbableFuturesError as exc:
                exc.partial_results = results  # type: ignore[attr-defined]
                raise
            results.extend(statistics_results(queries[start:end], answers))
        return results

    def get_dataset_statistics(
        self,
        *,
        latitude: float | None = None,
        longitude: float | None = None,
        country: str | None = None,
        city: str | None = None,
        address: str | None = None,
        warming_scenario: Any = None,
        dataset_id: Any = None,
        fields: Iterable[str] | str | None = None,
    ) -> list[DatasetStatistic]:
        """Statistics for one location: a point or a place.

        ``warming_scenario`` is one value or several among 0.5-3.0 (default: all six);
        ``dataset_id`` one id or several (default: all datasets); ``fields`` the response
        fields to request (default: all but ``cumulative_probability``; the 101
        percentiles included). Bad input raises before any request.
        """
        location = validate_location(
            latitude=latitude, longitude=longitude, country=country, city=city, address=address
        )
        queries = self.statistics_queries(
            location, warming_scenario=warming_scenario, dataset_id=dataset_id, fields=fields
        )
        rows: list[DatasetStatistic] = []
        for result in self.fetch_statistics(queries):
            if result.error is not None:
                raise result.error
            rows.extend(result.rows)
        return rows
