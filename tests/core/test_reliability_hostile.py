"""Hostile answers: every malformed, truncated, hanging or lying answer the emulator can script
ends in a ProbableFuturesError subclass with a clear message, or in a bounded retry that then
succeeds; never a hang, a KeyError/TypeError from inside the package, or a silently lost row.

Clients here use 1 s timeouts and 3 attempts, and pytest-timeout bounds every test.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import jwt
import pytest
from reliability_support import (
    FAST_RETRY,
    SHORT_TIMEOUT,
    jsonl,
    real_batch_answer,
    site_rows,
)

from pf_provider import (
    AuthenticationError,
    BatchError,
    GraphQLError,
    InvalidResponseError,
    PermissionDeniedError,
    ProbableFuturesError,
    RateLimiter,
    RateLimitError,
    RetryPolicy,
    TransportError,
)
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.extract import extract, iter_rows

pytestmark = pytest.mark.timeout(60)

POINT = {"latitude": 12.0, "longitude": 34.0, "dataset_id": 40101, "warming_scenario": "1.5"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
FUTURE = "2099-01-01T00:00:00.000Z"
PAST = "2001-01-01T00:00:00.000Z"


@pytest.fixture
def emu() -> Emulator:
    with Emulator(EmulatorConfig(rate_limit=None)) as emulator:
        yield emulator


@pytest.fixture
def hostile_client(emu, make_client):
    return make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)


def answer(status: int = 200, body: Any = b"", headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"status": status, "body": body, "headers": headers, **kwargs}


def token_body(token: str, expires_at: Any = FUTURE, **more: Any) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "scope": "statistics:read", "expires_at": expires_at, **more}


@dataclass(frozen=True)
class Case:
    """Scripted answers (``enqueue_raw`` keyword arguments, built from the emulator) on ``path``;
    ``error`` None means a bounded retry must succeed after exactly ``requests`` requests."""

    id: str
    path: str
    answers: Callable[[Emulator], list[dict[str, Any]]]
    error: type[ProbableFuturesError] | None
    match: str = ""
    requests: int | None = None
    policy: dict[str, Any] = field(default_factory=dict)


def fixed(*answers: dict[str, Any]) -> Callable[[Emulator], list[dict[str, Any]]]:
    return lambda emu: list(answers)


def row(**changes: Any) -> dict[str, Any]:
    base = {
        "datasetId": 40101,
        "name": "Average temperature",
        "unit": "°C",
        "warmingScenario": "1.5",
        "lowValue": "1.0",
        "midValue": "2.0",
        "highValue": "3.0",
        "latitude": 12.0,
        "longitude": 34.0,
        "mapCategory": "heat",
        "info": {},
        "values": ["1.0"] * 101,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()


def rows_answer(*rows: Any) -> list[Any]:
    return [{"data": {"getDatasetStatistics": {"datasetStatisticsResponses": list(rows)}}}]


TOKEN_CASES = [
    Case("truncated once", "/auth/token", fixed(answer(201, token_body("x"), truncate=True)), None, requests=2),
    Case(
        "truncated each time",
        "/auth/token",
        fixed(*[answer(201, token_body("x"), truncate=True)] * 3),
        TransportError,
        r"/auth/token failed after 3 attempts: the answer was cut off before its end",
    ),
    Case("dropped once", "/auth/token", fixed(answer(drop=True)), None, requests=2),
    Case("hangs once", "/auth/token", fixed(answer(hang=5.0)), None, requests=2),
    Case(
        "hangs each time",
        "/auth/token",
        fixed(*[answer(hang=5.0)] * 3),
        TransportError,
        r"failed after 3 attempts: no answer within the read timeout",
    ),
    Case("HTML page with 200", "/auth/token", fixed(answer(200, PAGE, HTML)), InvalidResponseError, r"not JSON.*html"),
    Case(
        "HTML 502 each time",
        "/auth/token",
        fixed(*[answer(502, PAGE, HTML)] * 3),
        TransportError,
        r"answered HTTP 502 on each of 3 attempts",
    ),
    Case("empty 201", "/auth/token", fixed(answer(201, b"")), InvalidResponseError, r"not JSON"),
    Case("JSON list", "/auth/token", fixed(answer(201, [])), InvalidResponseError, r"JSON list, not an object"),
    Case(
        "deeply nested JSON",
        "/auth/token",
        fixed(answer(201, "[" * 50_000 + "]" * 50_000)),
        InvalidResponseError,
        r"not JSON",
    ),
    Case(
        "access_token of the wrong type",
        "/auth/token",
        fixed(answer(201, token_body(12345))),
        AuthenticationError,
        r"without an access_token.*client ID 'demo-client-id'|client ID 'demo-client-id'.*without an access_token",
    ),
    Case(
        "access_token with a line break (header injection)",
        "/auth/token",
        fixed(answer(201, token_body("abc\r\nX-Injected: 1"))),
        InvalidResponseError,
        r"access_token.*cannot be sent",
    ),
    Case(
        "expires_at in the past, JWT expired too, twice",
        "/auth/token",
        lambda emu: [answer(201, token_body(emu.issue_token(lifetime=-60), PAST))] * 2,
        InvalidResponseError,
        r"already expired.*clock",
    ),
    Case(
        "opaque token, expires_at in the past",
        "/auth/token",
        fixed(*[answer(201, token_body("opaque-token", PAST))] * 2),
        InvalidResponseError,
        r"already expired.*clock",
    ),
    Case(
        "a token that expired in flight, then a fresh one",
        "/auth/token",
        lambda emu: [answer(201, token_body(emu.issue_token(lifetime=-1), PAST))],
        None,
        requests=2,
    ),
]

GRAPHQL_CASES = [
    Case("truncated once", "/graphql", fixed(answer(200, rows_answer(row()), truncate=True)), None, requests=2),
    Case(
        "truncated each time",
        "/graphql",
        fixed(*[answer(200, rows_answer(row()), truncate=True)] * 3),
        TransportError,
        r"POST 127.0.0.1/graphql failed after 3 attempts: the answer was cut off",
    ),
    Case(
        "gzip that is not gzip, once",
        "/graphql",
        fixed(answer(200, b"not gzip", {"Content-Encoding": "gzip", "Content-Type": "application/json"})),
        None,
        requests=2,
    ),
    Case("dropped once", "/graphql", fixed(answer(drop=True)), None, requests=2),
    Case(
        "dropped each time",
        "/graphql",
        fixed(*[answer(drop=True)] * 3),
        TransportError,
        r"failed after 3 attempts",
    ),
    Case("hangs once", "/graphql", fixed(answer(hang=5.0)), None, requests=2),
    Case(
        "hangs each time",
        "/graphql",
        fixed(*[answer(hang=5.0)] * 3),
        TransportError,
        r"no answer within the read timeout",
    ),
    Case("HTML page with 200", "/graphql", fixed(answer(200, PAGE, HTML)), InvalidResponseError, r"not JSON.*html"),
    Case(
        "HTML 503 each time",
        "/graphql",
        fixed(*[answer(503, PAGE, HTML)] * 3),
        TransportError,
        r"answered HTTP 503 on each of 3 attempts",
    ),
    Case("HTML 404", "/graphql", fixed(answer(404, PAGE, HTML)), InvalidResponseError, r"HTTP 404.*not JSON"),
    Case("JSON 404", "/graphql", fixed(answer(404, {"message": "nope"})), TransportError, r"answered HTTP 404"),
    Case("not UTF-8", "/graphql", fixed(answer(200, b"\xff\xfe\xfa garbage")), InvalidResponseError, r"not JSON"),
    Case(
        "deeply nested JSON",
        "/graphql",
        fixed(answer(200, "[" * 50_000 + "]" * 50_000)),
        InvalidResponseError,
        r"not JSON",
    ),
    Case("null", "/graphql", fixed(answer(200, "null")), InvalidResponseError, r"batch of 1 .* JSON NoneType"),
    Case(
        "an object for a batch",
        "/graphql",
        fixed(answer(200, rows_answer(row())[0])),
        InvalidResponseError,
        r"batch of 1 operations was answered with a JSON dict",
    ),
    Case(
        "batch of the wrong length (0)",
        "/graphql",
        fixed(answer(200, [])),
        InvalidResponseError,
        r"batch of 1 operations was answered with 0 results",
    ),
    Case(
        "batch of the wrong length (2)",
        "/graphql",
        fixed(answer(200, rows_answer(row()) * 2)),
        InvalidResponseError,
        r"batch of 1 operations was answered with 2 results",
    ),
    Case("result is text", "/graphql", fixed(answer(200, ["x"])), InvalidResponseError, r"should be an object"),
    Case("result is empty", "/graphql", fixed(answer(200, [{}])), InvalidResponseError, r"neither data nor errors"),
    Case(
        "data without the field",
        "/graphql",
        fixed(answer(200, [{"data": {}}])),
        InvalidResponseError,
        r"lacks its getDatasetStatistics member",
    ),
    Case(
        "field is a list",
        "/graphql",
        fixed(answer(200, [{"data": {"getDatasetStatistics": []}}])),
        InvalidResponseError,
        r"getDatasetStatistics should be an object, got list",
    ),
    Case(
        "responses missing",
        "/graphql",
        fixed(answer(200, [{"data": {"getDatasetStatistics": {}}}])),
        InvalidResponseError,
        r"no datasetStatisticsResponses member",
    ),
    Case(
        "responses not a list",
        "/graphql",
        fixed(answer(200, [{"data": {"getDatasetStatistics": {"datasetStatisticsResponses": {}}}}])),
        InvalidResponseError,
        r"datasetStatisticsResponses should be a list",
    ),
    Case(
        "row is text",
        "/graphql",
        fixed(answer(200, rows_answer("x"))),
        InvalidResponseError,
        r"row should be an object",
    ),
    Case(
        "row without datasetId",
        "/graphql",
        fixed(answer(200, rows_answer(row(datasetId=DROP)))),
        InvalidResponseError,
        r"datasetId should be an integer, got None",
    ),
    Case(
        "row without warmingScenario",
        "/graphql",
        fixed(answer(200, rows_answer(row(warmingScenario=DROP)))),
        InvalidResponseError,
        r"no warmingScenario",
    ),
    Case(
        "datasetId text",
        "/graphql",
        fixed(answer(200, rows_answer(row(datasetId="abc")))),
        InvalidResponseError,
        r"datasetId should be an integer",
    ),
    Case(
        "datasetId with a fraction",
        "/graphql",
        fixed(answer(200, rows_answer(row(datasetId=40101.5)))),
        InvalidResponseError,
        r"datasetId should be an integer",
    ),
    Case(
        "datasetId Infinity",
        "/graphql",
        fixed(answer(200, json.dumps(rows_answer(row(datasetId=float("inf")))))),
        InvalidResponseError,
        r"datasetId should be an integer",
    ),
    Case(
        "warmingScenario text",
        "/graphql",
        fixed(answer(200, rows_answer(row(warmingScenario="hot")))),
        InvalidResponseError,
        r"warmingScenario should be a number",
    ),
    Case(
        "lowValue text",
        "/graphql",
        fixed(answer(200, rows_answer(row(lowValue="abc")))),
        InvalidResponseError,
        r"lowValue should be a number",
    ),
    Case(
        "midValue object",
        "/graphql",
        fixed(answer(200, rows_answer(row(midValue={"a": 1})))),
        InvalidResponseError,
        r"midValue should be a number",
    ),
    Case(
        "highValue an integer too large for a float",
        "/graphql",
        fixed(answer(200, json.dumps(rows_answer(row(highValue=10**400))))),
        InvalidResponseError,
        r"highValue should be a number",
    ),
    Case(
        "name a number",
        "/graphql",
        fixed(answer(200, rows_answer(row(name=5)))),
        InvalidResponseError,
        r"name should be text",
    ),
    Case(
        "info text",
        "/graphql",
        fixed(answer(200, rows_answer(row(info="zone")))),
        InvalidResponseError,
        r"info should be an object",
    ),
    Case(
        "values text",
        "/graphql",
        fixed(answer(200, rows_answer(row(values="abc")))),
        InvalidResponseError,
        r"values should be a list",
    ),
    Case(
        "GraphQL error with malformed locations",
        "/graphql",
        fixed(answer(200, [{"errors": [{"message": "boom", "locations": [{"line": None}, {"line": "x"}]}]}])),
        GraphQLError,
        r"boom",
    ),
    Case(
        "GraphQL errors as text",
        "/graphql",
        fixed(answer(200, [{"errors": "boom"}])),
        GraphQLError,
        r"boom",
    ),
    Case(
        "401 with an HTML page, then fine",
        "/graphql",
        fixed(answer(401, PAGE, HTML)),
        None,
        requests=2,
    ),
    Case(
        "401 with malformed error locations, then fine",
        "/graphql",
        fixed(answer(401, {"errors": [{"message": "jwt expired", "locations": [{"line": None}]}]})),
        None,
        requests=2,
    ),
    Case(
        "401 with deeply nested JSON, then fine",
        "/graphql",
        fixed(answer(401, "[" * 50_000 + "]" * 50_000)),
        None,
        requests=2,
    ),
    Case(
        "403 as an HTML page",
        "/graphql",
        fixed(answer(403, PAGE, HTML)),
        PermissionDeniedError,
        r"lacks the permission",
    ),
    Case(
        "429 each time",
        "/graphql",
        fixed(*[answer(429, "Too many requests", {"Retry-After": "0"})] * 4),
        RateLimitError,
        r"answered HTTP 429 4 times in a row",
        policy={"max_rate_limit_waits": 3},
    ),
    Case(
        "429 asking for an absurd wait",
        "/graphql",
        fixed(answer(429, "Too many requests", {"Retry-After": "1e308"})),
        RateLimitError,
        r"asks to wait .* more than max_retry_after",
    ),
    *[
        Case(
            f"429 with Retry-After {value!r}, then fine",
            "/graphql",
            fixed(answer(429, "", {"Retry-After": value})),
            None,
            requests=2,
        )
        for value in ("nan", "-5", "soon", "inf", "Wed, 21 Oct 2015 07:28:00 GMT")
    ],
]


def run_case(case: Case, emu: Emulator, client) -> Any:
    if case.path == "/auth/token":
        return client.get_access_token()
    client.get_access_token()
    return client.get_dataset_statistics(**POINT)


@pytest.mark.parametrize("case", TOKEN_CASES + GRAPHQL_CASES, ids=lambda c: f"{c.path}: {c.id}")
def test_hostile_answer(case: Case, emu: Emulator, make_client):
    client = make_client(emu, retry=RetryPolicy(**{**vars(FAST_RETRY), **case.policy}), timeout=SHORT_TIMEOUT)
    reference = make_client(emu, retry=FAST_RETRY)
    expected = reference.get_dataset_statistics(**POINT) if case.path == "/graphql" else None
    scripted = case.answers(emu)
    for kwargs in scripted:
        emu.enqueue_raw(case.path, **kwargs)
    emu.reset_stats()
    on_path = "token_requests" if case.path == "/auth/token" else "graphql_requests"
    if case.error is None:
        result = run_case(case, emu, client)
        if expected is not None:
            assert result == expected, "the retried call returned the same rows as an undisturbed one"
        else:
            assert isinstance(result, str) and result in emu.issued_tokens
        assert getattr(emu.stats, on_path) == case.requests
    else:
        with pytest.raises(ProbableFuturesError) as caught:
            run_case(case, emu, client)
        error = caught.value
        assert type(error) is case.error or (case.error is GraphQLError and isinstance(error, GraphQLError))
        assert re.search(case.match, str(error), re.S), f"unclear message: {error}"
        assert getattr(emu.stats, on_path) <= FAST_RETRY.max_attempts + case.policy.get("max_rate_limit_waits", 0) + 1
    assert emu.stats.raw_answers == len(scripted), "every scripted answer was used"
    assert emu.internal_errors == []


def test_token_without_expires_at_uses_the_jwt_expiry(emu, hostile_client):
    token = emu.issue_token(lifetime=3600)
    emu.enqueue_raw("/auth/token", 201, {"access_token": token, "token_type": "Bearer"})
    assert hostile_client.get_access_token() == token
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert hostile_client.token_expires_at == datetime.fromtimestamp(exp, tz=timezone.utc)


@pytest.mark.parametrize("expires_at", [PAST, "tomorrow", 12345, {}, [], None, ""])
def test_unusable_expires_at_with_a_valid_jwt_falls_back_to_its_exp(emu, hostile_client, expires_at):
    token = emu.issue_token(lifetime=3600)
    emu.enqueue_raw("/auth/token", 201, token_body(token, expires_at))
    assert hostile_client.get_access_token() == token
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert hostile_client.token_expires_at.timestamp() == exp
    assert hostile_client.get_dataset_statistics(**POINT)


def test_opaque_token_without_expiry_is_trusted_briefly_and_refreshed_on_401(emu, hostile_client, caplog):
    caplog.set_level(logging.WARNING, logger="pf_provider")
    emu.enqueue_raw("/auth/token", 201, {"access_token": "opaque-token-without-expiry", "token_type": "Bearer"})
    rows = hostile_client.get_dataset_statistics(**POINT)
    assert len(rows) == 1
    assert any("says nothing usable about its expiry" in r.getMessage() for r in caplog.records)
    assert emu.stats.token_requests == 2, "the 401 to the opaque token brought one refresh, then the call went through"
    assert emu.stats.status_counts.get(401) == 1


def test_malformed_percentiles_fail_when_read_never_silently(emu, hostile_client):
    emu.enqueue_raw("/graphql", 200, rows_answer(row(values=["1.0"] * 50 + ["oops"] + ["1.0"] * 50)))
    (stat,) = hostile_client.get_dataset_statistics(**POINT)
    assert stat.low_value == 1.0
    with pytest.raises(InvalidResponseError, match="values should hold only numbers"):
        stat.to_dict()


def test_hostile_rate_limit_headers_do_not_stall_the_next_request(emu, make_client):
    limiter = RateLimiter(limit=100, window=1.0)
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, rate_limiter=limiter)
    expected = client.get_dataset_statistics(**POINT)
    body = rows_answer(*[stat_to_row(s) for s in expected])
    for headers in (
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "1e12"},
        {"RateLimit-Limit": "1", "RateLimit-Remaining": "0", "RateLimit-Reset": "31536000"},
    ):
        emu.enqueue_raw("/graphql", 200, body, headers)
        assert client.get_dataset_statistics(**POINT) == expected
        assert limiter.status().reset_in <= 1.0, "a reset beyond the window is not believed"
        assert client.get_dataset_statistics(**POINT) == expected  # would wait ~forever otherwise


def stat_to_row(stat) -> dict[str, Any]:
    data = stat.to_dict()
    return {
        "datasetId": data["dataset_id"],
        "name": data["name"],
        "unit": data["unit"],
        "warmingScenario": data["warming_scenario"],
        "lowValue": str(data["low_value"]),
        "midValue": str(data["mid_value"]),
        "highValue": str(data["high_value"]),
        "latitude": data["latitude"],
        "longitude": data["longitude"],
        "mapCategory": data["map_category"],
        "info": data["info"],
        "values": [str(v) for v in data["values"]],
    }


# -- batches: nothing is dropped silently ---------------------------------------------------------

OPERATION = (
    "mutation($i: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $i) "
    "{ datasetStatisticsResponses { datasetId warmingScenario midValue } } }"
)


def operations(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (OPERATION, {"i": {"latitude": float(i), "longitude": 10.0, "datasetId": 40101, "warmingScenario": "1.5"}})
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("second_chunk", "error", "match"),
    [
        (lambda good: good[:1], InvalidResponseError, "batch of 2 operations was answered with 1 results"),
        (lambda good: good * 2, InvalidResponseError, "batch of 2 operations was answered with 4 results"),
        (lambda good: {"errors": [{"message": "Batch too large"}]}, GraphQLError, "Batch too large"),
        (lambda good: {"data": good[0]["data"]}, InvalidResponseError, "answered with a JSON dict"),
    ],
    ids=["short", "long", "whole-batch error", "object"],
)
def test_a_bad_batch_answer_raises_and_keeps_the_results_before_it(emu, make_client, second_chunk, error, match):
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, max_batch_size=2)
    good = [{"data": d} for d in client.execute_batch(operations(4))]
    emu.enqueue_raw("/graphql", 200, good[:2])
    emu.enqueue_raw("/graphql", 200, second_chunk(good[2:]))
    with pytest.raises(error, match=match) as caught:
        client.execute_batch(operations(4))
    assert caught.value.partial_results == [g["data"] for g in good[:2]]


def test_one_failed_operation_of_a_batch_is_reported_by_index(emu, make_client):
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    good = [{"data": d} for d in client.execute_batch(operations(3))]
    emu.enqueue_raw("/graphql", 200, [good[0], {"errors": [{"message": "bad input", "path": ["x"]}]}, good[2]])
    with pytest.raises(BatchError) as caught:
        client.execute_batch(operations(3))
    assert caught.value.results == [good[0]["data"], None, good[2]["data"]]
    assert list(caught.value.failures) == [1] and "bad input" in str(caught.value)


# -- the bulk engine: a bad row rejects its site, a bad batch writes nothing ----------------------

SITES = site_rows(3)
OPTIONS = {"datasets": [40101], "scenarios": ["1.5"]}


def corrupt(kind: str, result: dict[str, Any]) -> dict[str, Any]:
    stats = result["data"]["getDatasetStatistics"]["datasetStatisticsResponses"]
    if kind == "lowValue text":
        stats[0]["lowValue"] = "n/a"
    elif kind == "row not an object":
        stats[0] = "n/a"
    elif kind == "percentile not a number":
        stats[0]["values"][7] = "n/a"
    elif kind == "datasetId missing":
        del stats[0]["datasetId"]
    elif kind == "GraphQL error":
        return {"errors": [{"message": "An error occurred while processing your request."}], "data": None}
    elif kind == "no data":
        return {"data": None}
    return result


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("lowValue text", "lowValue should be a number"),
        ("row not an object", "should be an object"),
        ("percentile not a number", "values should hold only numbers"),
        ("datasetId missing", "datasetId should be an integer"),
        ("GraphQL error", "An error occurred"),
        ("no data", "lacks its getDatasetStatistics member"),
    ],
)
def test_a_malformed_row_rejects_only_its_site(tmp_path, emu, make_client, kind, reason):
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    extract(client, SITES, tmp_path / "clean.jsonl", include_values=True, **OPTIONS)
    answers = real_batch_answer(client, SITES, include_values=True, **OPTIONS)
    answers[1] = corrupt(kind, answers[1])
    emu.enqueue_raw("/graphql", 200, answers)
    summary = extract(client, SITES, tmp_path / "out.jsonl", include_values=True, concurrency=1, **OPTIONS)
    assert summary.fetched_sites == 2 and summary.rejected_sites == 1
    (rejected,) = jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert rejected["site_id"] == "s00001" and reason in rejected["reason"]
    assert rejected["input"]["latitude"] == SITES[1]["latitude"]
    clean = [r for r in jsonl(tmp_path / "clean.jsonl") if r["site_id"] != "s00001"]
    assert jsonl(tmp_path / "out.jsonl") == clean


def test_a_wrong_length_batch_stops_the_run_without_partial_output_and_resume_completes(tmp_path, emu, make_client):
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    sites = site_rows(60)
    options = {**OPTIONS, "batch_size": 20}
    extract(client, sites, tmp_path / "clean.jsonl", **options)
    first = real_batch_answer(client, sites[:20], **OPTIONS)
    second = real_batch_answer(client, sites[20:40], **OPTIONS)
    emu.enqueue_raw("/graphql", 200, first)
    emu.enqueue_raw("/graphql", 200, second[:-1])
    with pytest.raises(InvalidResponseError, match="batch of 20 operations was answered with 19 results"):
        extract(client, sites, tmp_path / "out.jsonl", concurrency=1, **options)
    written = jsonl(tmp_path / "out.jsonl")
    assert {r["site_id"] for r in written} == {s["site_id"] for s in sites[:20]}, "only the whole first batch"
    summary = extract(client, sites, tmp_path / "out.jsonl", concurrency=1, **options)
    assert summary.skipped_sites == 20 and summary.fetched_sites == 40
    assert (tmp_path / "out.jsonl").read_bytes() == (tmp_path / "clean.jsonl").read_bytes()


def test_iter_rows_stops_at_a_wrong_length_batch_after_the_whole_batches_before_it(emu, make_client):
    client = make_client(emu, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    sites = site_rows(40)
    clean = list(iter_rows(client, sites, batch_size=20, **OPTIONS))
    got = []
    with pytest.raises(InvalidResponseError, match="answered with 21 results"):
        for item in iter_rows(client, sites, batch_size=20, **OPTIONS):
            got.append(item)
            if len(got) == 20:  # the first batch is consumed; the second is fetched next
                emu.enqueue_raw("/graphql", 200, [*real_batch_answer(client, sites[20:], **OPTIONS), {"data": None}])
    assert got == clean[:20]
