"""The API emulator, exercised over real HTTP with ``requests`` (no pf_provider client involved)."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

import jwt
import pytest
import requests

from pf_provider.catalog import CLIMATE_ZONES_DATASET_ID, WARMING_SCENARIOS, all_datasets, climate_zone_name
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.emulator.graphql_engine import MASKED_MESSAGE
from pf_provider.emulator.tokens import AUDIENCE

FIELDS = (
    "datasetId name unit warmingScenario lowValue midValue highValue latitude longitude "
    "mapCategory info values cumulativeProbability"
)
QUERY = (
    "mutation Stats($input: GetDatasetStatisticsInput!) {"
    f" getDatasetStatistics(input: $input) {{ clientMutationId datasetStatisticsResponses {{ {FIELDS} }} }} }}"
)
NYC = {"latitude": 40.7, "longitude": -73.9}


# -- helpers ----------------------------------------------------------------------------------


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def get_token(emu: Emulator, client_id: str | None = None, secret: str | None = None) -> requests.Response:
    credentials = f"{client_id or emu.client_id}:{secret or emu.client_secret}"
    return requests.get(f"{emu.url}/auth/token", headers={"Authorization": basic(credentials)}, timeout=10)


def bearer(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(emu).json()['access_token']}"}


def post(emu: Emulator, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
    return requests.post(f"{emu.url}/graphql", json=body, headers=headers, timeout=kwargs.pop("timeout", 10), **kwargs)


def stats_request(**inp: Any) -> dict[str, Any]:
    return {"query": QUERY, "variables": {"input": inp}}


def rows_of(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    return payload["data"]["getDatasetStatistics"]["datasetStatisticsResponses"]


def fetch_rows(emu: Emulator, headers: dict[str, str], **inp: Any) -> list[dict[str, Any]]:
    return rows_of(post(emu, stats_request(**inp), headers))


@pytest.fixture
def auth(pf_emulator: Emulator) -> dict[str, str]:
    return bearer(pf_emulator)


@pytest.fixture
def open_emulator(pf_emulator_factory: Any) -> Emulator:
    """Unmasked errors, so tests can read the messages."""
    return pf_emulator_factory(mask_errors=False)


# -- /auth/token --------------------------------------------------------------------------------


def test_token_is_201_with_iso_expiry_and_cached_until_it_expires(pf_emulator: Emulator) -> None:
    first = get_token(pf_emulator)
    assert first.status_code == 201
    body = first.json()
    assert set(body) == {"access_token", "scope", "token_type", "expires_at"}
    assert body["token_type"] == "Bearer" and body["scope"] == "statistics:read"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["expires_at"])
    expires = datetime.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(expires.timestamp() - (time.time() + 86400)) < 60

    assert get_token(pf_emulator).json() == body  # same token, same expiry
    assert pf_emulator.expire_tokens() == 1
    renewed = get_token(pf_emulator).json()
    assert renewed["access_token"] != body["access_token"]
    assert pf_emulator.issued_tokens == [body["access_token"], renewed["access_token"]]
    assert pf_emulator.stats.tokens_issued == 2


def test_short_lifetime_token_is_replaced_after_expiry(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(token_lifetime=0.5)
    first = get_token(emu).json()["access_token"]
    time.sleep(0.7)
    second = get_token(emu).json()["access_token"]
    assert second != first
    assert post(emu, stats_request(**NYC), {"Authorization": f"Bearer {first}"}).json() == {
        "errors": [{"message": "jwt expired"}]
    }


def test_jwt_is_rs256_and_verifies_with_the_public_key(pf_emulator: Emulator) -> None:
    token = get_token(pf_emulator).json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, pf_emulator.public_key_pem, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["permissions"] == ["statistics:read"]
    assert claims["sub"] == f"{pf_emulator.client_id}@clients"
    assert claims["iat"] <= time.time() < claims["exp"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "basic " + base64.b64encode(b"a:b").decode(),
        basic("no-colon"),
        basic(":secret"),
        basic("id:"),
    ],
)
def test_token_endpoint_401_for_unusable_headers(pf_emulator: Emulator, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{pf_emulator.url}/auth/token", headers=headers, timeout=10)
    assert (response.status_code, response.text) == (401, "Unauthorized")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_wrong_credentials_answer_201_without_token(pf_emulator: Emulator) -> None:
    for client_id, secret in [(pf_emulator.client_id, "wrong-secret"), ("unknown-client", pf_emulator.client_secret)]:
        response = get_token(pf_emulator, client_id, secret)
        assert (response.status_code, response.json()) == (201, {"expires_at": None})
    assert pf_emulator.issued_tokens == []


def test_wrong_credentials_answer_500_without_echoing_the_secret(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(wrong_credentials="500")
    response = get_token(emu, emu.client_id, "wrong-secret-canary")
    assert response.status_code == 500
    assert response.json() and "wrong-secret-canary" not in response.text


def test_token_endpoint_is_not_rate_limited(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(rate_limit=1)
    assert [get_token(emu).status_code for _ in range(4)] == [201] * 4
    assert "RateLimit-Limit" not in get_token(emu).headers


# -- /graphql authentication ----------------------------------------------------------------------


def test_graphql_401_messages(pf_emulator: Emulator, pf_emulator_factory: Any) -> None:
    def message(headers: dict[str, str] | None) -> tuple[int, str]:
        response = post(pf_emulator, stats_request(**NYC), headers)
        return response.status_code, response.json()["errors"][0]["message"]

    other = pf_emulator_factory()
    revoked = pf_emulator.issue_token()
    pf_emulator.revoke_token(revoked)
    assert message(None) == (401, "No authorization token was found")
    assert message({"Authorization": "Token abc"}) == (401, "Format is Authorization: Bearer [token]")
    assert message({"Authorization": "Bearer not-a-jwt"}) == (401, "jwt malformed")
    assert message(bearer(other)) == (401, "invalid signature")
    assert message({"Authorization": f"Bearer {revoked}"}) == (401, "invalid signature")
    assert message({"Authorization": f"Bearer {pf_emulator.issue_token(lifetime=-5)}"}) == (401, "jwt expired")
    assert pf_emulator.stats.status_counts == {401: 6}


def test_token_without_permission_gets_403(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(clients={"reader-without-scope": "pw"}, client_permissions={"reader-without-scope": ()})
    token = get_token(emu, "reader-without-scope", "pw").json()["access_token"]
    response = post(emu, stats_request(**NYC), {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"errors": [{"message": "Insufficient scope"}]}
    assert rows_of(post(emu, stats_request(**NYC), bearer(emu)))  # the demo client still works


# -- rate limit ---------------------------------------------------------------------------------


def test_rate_limit_headers_429_and_reset(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(rate_limit=3, rate_window=2.0)
    headers = bearer(emu)
    remaining = []
    for _ in range(3):
        response = post(emu, stats_request(**NYC), headers)
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Reset"] in ("1", "2")
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    limited = post(emu, stats_request(**NYC), headers)
    assert limited.status_code == 429
    assert limited.text == "Too many requests, please try again later."
    assert limited.headers["RateLimit-Remaining"] == "0"
    retry_after = int(limited.headers["Retry-After"])
    assert retry_after in (1, 2) and limited.headers["RateLimit-Reset"] == str(retry_after)
    time.sleep(retry_after + 0.05)
    again = post(emu, stats_request(**NYC), headers)
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "2"
    assert emu.stats.rate_limited == 1


def test_retry_after_can_be_fixed(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(rate_limit=1, retry_after=7)
    headers = bearer(emu)
    post(emu, stats_request(**NYC), headers)
    assert post(emu, stats_request(**NYC), headers).headers["Retry-After"] == "7"


def test_batch_counts_once_against_the_limit(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(rate_limit=2)
    response = post(
        emu, [stats_request(latitude=10.0 * k, longitude=5.0, datasetId=40101) for k in range(5)], bearer(emu)
    )
    assert response.status_code == 200 and len(response.json()) == 5
    assert response.headers["RateLimit-Remaining"] == "1"
    stats = emu.stats
    assert (stats.graphql_requests, stats.graphql_operations, stats.batched_requests) == (1, 5, 1)


def test_rejected_requests_count_only_when_asked(pf_emulator_factory: Any) -> None:
    default = pf_emulator_factory(rate_limit=1)
    for _ in range(3):
        assert post(default, stats_request(**NYC)).status_code == 401
    assert post(default, stats_request(**NYC), bearer(default)).status_code == 200

    counting = pf_emulator_factory(rate_limit=1, count_rejected=True)
    assert post(counting, stats_request(**NYC)).headers["RateLimit-Remaining"] == "0"
    assert post(counting, stats_request(**NYC), bearer(counting)).status_code == 429


# -- GraphQL ------------------------------------------------------------------------------------


def test_aliases_fragments_typename_and_client_mutation_id(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    query = """
    mutation {
      ny: getDatasetStatistics(input: {latitude: 40.7, longitude: -73.9, datasetId: 40101, warmingScenario: "1.5",
                                       clientMutationId: "abc"}) {
        clientMutationId __typename
        datasetStatisticsResponses { ...Small kind: __typename }
      }
      paris: getDatasetStatistics(input: {country: "FR", datasetId: 40101, warmingScenario: ["1.0", "2.0"]}) {
        rows: datasetStatisticsResponses { mid: midValue ... on DatasetStatisticsResponse { warmingScenario } }
      }
    }
    fragment Small on DatasetStatisticsResponse { datasetId midValue }
    """
    data = post(pf_emulator, {"query": query}, auth).json()["data"]
    assert data["ny"]["clientMutationId"] == "abc"
    assert data["ny"]["__typename"] == "GetDatasetStatisticsPayload"
    [row] = data["ny"]["datasetStatisticsResponses"]
    assert set(row) == {"datasetId", "midValue", "kind"} and row["kind"] == "DatasetStatisticsResponse"
    assert [r["warmingScenario"] for r in data["paris"]["rows"]] == ["1.0", "2.0"]
    assert set(data["paris"]["rows"][0]) == {"mid", "warmingScenario"}


def test_validation_error_is_400_alone_and_per_entry_in_a_batch(
    pf_emulator: Emulator, open_emulator: Emulator, auth: dict[str, str]
) -> None:
    bad = {"query": "mutation { getDatasetStatistics(input: {}) { nope } }"}
    masked = post(pf_emulator, bad, auth)
    assert masked.status_code == 400
    assert masked.json()["errors"][0]["message"] == MASKED_MESSAGE

    response = post(open_emulator, bad, bearer(open_emulator))
    assert response.status_code == 400 and "nope" in response.json()["errors"][0]["message"]
    assert response.json()["errors"][0]["locations"] == [{"line": 1, "column": 46}]

    batch = post(open_emulator, [stats_request(**NYC, datasetId=40101), bad], bearer(open_emulator))
    assert batch.status_code == 200
    good, failed = batch.json()
    assert len(good["data"]["getDatasetStatistics"]["datasetStatisticsResponses"]) == 6
    assert "data" not in failed and "nope" in failed["errors"][0]["message"]


def test_request_shape_errors(open_emulator: Emulator) -> None:
    headers = bearer(open_emulator)
    assert post(open_emulator, {"variables": {}}, headers).status_code == 400
    raw = requests.post(f"{open_emulator.url}/graphql", data=b"{not json", headers=headers, timeout=10)
    assert raw.status_code == 400 and raw.json()["errors"]
    invalid_variable = post(open_emulator, {"query": QUERY, "variables": {"input": {"latitude": "north"}}}, headers)
    assert invalid_variable.status_code == 200
    assert invalid_variable.json()["errors"][0]["message"].startswith('Variable "$input" got invalid value')
    assert requests.get(f"{open_emulator.url}/graphql", headers=headers, timeout=10).status_code == 405
    assert requests.get(f"{open_emulator.url}/elsewhere", timeout=10).status_code == 404


def test_introspection_query(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    data = post(pf_emulator, {"query": "{ __schema { mutationType { name } } }"}, auth).json()["data"]
    assert data == {"__schema": {"mutationType": {"name": "Mutation"}}}


@pytest.mark.parametrize(
    ("inp", "message"),
    [
        ({"latitude": 91.0, "longitude": 0.0}, "Invalid latitude param."),
        ({"latitude": 0.5, "longitude": -180.5}, "Invalid longitude param."),
        ({"latitude": 100.0, "longitude": 200.0}, "Invalid longitude param."),  # the database checks it first
    ],
)
def test_out_of_range_coordinates(pf_emulator_factory: Any, inp: dict[str, float], message: str) -> None:
    for mask in (True, False):
        emu = pf_emulator_factory(mask_errors=mask)
        query = (
            "mutation($i: GetDatasetStatisticsInput!) { here: getDatasetStatistics(input: $i) { clientMutationId } }"
        )
        response = post(emu, {"query": query, "variables": {"i": inp}}, bearer(emu))
        assert response.status_code == 200
        body = response.json()
        assert body["data"] == {"here": None}
        [error] = body["errors"]
        assert error["message"] == (MASKED_MESSAGE if mask else message)
        assert error["extensions"] == {"exception": {"code": "P0001"}}
        assert error["path"] == ["here"]


# -- data -----------------------------------------------------------------------------------------


def test_places_resolve_to_their_cells(open_emulator: Emulator) -> None:
    headers = bearer(open_emulator)

    def cell(**place: str) -> tuple[float, float]:
        row = fetch_rows(open_emulator, headers, datasetId=40101, warmingScenario="1.5", **place)[0]
        return row["latitude"], row["longitude"]

    assert cell(country="fr") == cell(country="France") == (48.84, 2.42)
    assert cell(city="São Paulo", country="Brazil") == cell(city="sao paulo", country="BR") == (-23.54, -46.64)
    assert cell(address="350 5th Ave, New York, NY 10118, USA") == (40.7, -73.92)
    assert cell(address="Somewhere in Germany") == cell(country="DE")

    unknown = post(open_emulator, stats_request(country="Atlantis"), headers).json()
    assert unknown["errors"][0]["message"] == "Invalid longitude param."
    assert unknown["errors"][0]["extensions"]["exception"]["code"] == "P0001"


def test_points_snap_to_the_022_degree_grid(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    a = fetch_rows(pf_emulator, auth, latitude=40.7, longitude=-73.9, datasetId=40104, warmingScenario="2.0")
    b = fetch_rows(pf_emulator, auth, latitude=40.75, longitude=-73.95, datasetId=40104, warmingScenario="2.0")
    assert a == b
    assert (a[0]["latitude"], a[0]["longitude"]) == (40.7, -73.92)
    for coordinate in (a[0]["latitude"], a[0]["longitude"]):
        assert abs(coordinate / 0.22 - round(coordinate / 0.22)) < 1e-6


def test_every_row_honours_the_data_contract(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    rows = fetch_rows(pf_emulator, auth, latitude=-33.9, longitude=18.4)
    datasets = all_datasets()
    assert len(rows) == len(datasets) * 6 == 180
    assert [(r["datasetId"], r["warmingScenario"]) for r in rows] == [
        (d.dataset_id, s) for d in datasets for s in WARMING_SCENARIOS
    ]
    by_id = {d.dataset_id: d for d in datasets}
    for row in rows:
        dataset = by_id[row["datasetId"]]
        values = [float(v) for v in row["values"]]
        assert len(values) == 101 and values == sorted(values)
        assert all(dataset.min_value <= v <= dataset.max_value for v in values)
        assert all(isinstance(v, str) for v in row["values"])
        assert (row["lowValue"], row["midValue"], row["highValue"]) == (
            row["values"][5],
            row["values"][50],
            row["values"][95],
        )
        assert row["cumulativeProbability"] == [f"{i}.0" for i in range(101)]
        assert (row["name"], row["unit"], row["mapCategory"]) == (dataset.map_name, dataset.unit, dataset.category)
        if dataset.unit in ("days", "nights") and not dataset.is_diff:
            assert all(0 <= v <= 365 and v == int(v) for v in values)
        if row["datasetId"] == CLIMATE_ZONES_DATASET_ID:
            assert all(v == int(v) and 1 <= v <= len(dataset.bin_labels or ()) for v in values)
            assert row["info"] == {"climateZoneName": climate_zone_name(float(row["midValue"]))}
        else:
            assert row["info"] == {}


def test_data_is_plausible(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    def mid(dataset_id: int, latitude: float, scenario: str) -> float:
        rows = fetch_rows(
            pf_emulator, auth, latitude=latitude, longitude=20.0, datasetId=dataset_id, warmingScenario=scenario
        )
        return float(rows[0]["midValue"])

    assert mid(40101, 5.0, "1.5") > mid(40101, 45.0, "1.5") > mid(40101, 75.0, "1.5")
    assert mid(40101, 45.0, "3.0") > mid(40101, 45.0, "1.0")
    assert mid(40104, 10.0, "3.0") >= mid(40104, 10.0, "0.5")
    spread = [
        float(r["highValue"]) - float(r["lowValue"])
        for r in fetch_rows(pf_emulator, auth, latitude=30.0, longitude=20.0, datasetId=40601)
    ]
    assert spread == sorted(spread) and spread[-1] > spread[0]  # change maps widen with warming
    baseline = fetch_rows(pf_emulator, auth, latitude=30.0, longitude=20.0, datasetId=40601, warmingScenario="0.5")
    assert abs(float(baseline[0]["midValue"])) < 50


def test_data_is_identical_across_instances(pf_emulator_factory: Any) -> None:
    bodies = []
    for _ in range(2):
        emu = pf_emulator_factory()
        bodies.append(post(emu, stats_request(latitude=12.3, longitude=45.6), bearer(emu)).content)
    assert bodies[0] == bodies[1]


def test_scenario_and_dataset_filters(open_emulator: Emulator) -> None:
    headers = bearer(open_emulator)

    def scenarios(**inp: Any) -> list[str]:
        return [r["warmingScenario"] for r in fetch_rows(open_emulator, headers, **NYC, datasetId=40101, **inp)]

    assert scenarios() == list(WARMING_SCENARIOS)
    assert scenarios(warmingScenario="1.5") == scenarios(warmingScenario=1.5) == ["1.5"]
    assert scenarios(warmingScenario=["3.0", "1.0", "1.00"]) == ["1.0", "3.0"]
    assert scenarios(warmingScenario="4.0") == []
    assert fetch_rows(open_emulator, headers, **NYC, datasetId=12345) == []
    bad = post(open_emulator, stats_request(**NYC, warmingScenario="warm"), headers).json()
    assert bad["errors"][0]["extensions"]["exception"]["code"] == "22P02"


# -- faults ---------------------------------------------------------------------------------------


def statuses(emu: Emulator, n: int, **kwargs: Any) -> list[int]:
    headers = bearer(emu)
    return [post(emu, stats_request(**NYC, datasetId=40101), headers, **kwargs).status_code for _ in range(n)]


def test_error_rate_is_seeded(pf_emulator_factory: Any) -> None:
    runs = [statuses(pf_emulator_factory(error_rate=0.5, seed=7, rate_limit=None), 40) for _ in range(2)]
    assert runs[0] == runs[1]
    failures = [s for s in runs[0] if s != 200]
    assert 5 <= len(failures) <= 35 and set(failures) <= {500, 502, 503, 504}
    other_seed = statuses(pf_emulator_factory(error_rate=0.5, seed=8, rate_limit=None), 40)
    assert other_seed != runs[0]


def test_drop_closes_the_connection_without_an_answer(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    pf_emulator.configure(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(pf_emulator, stats_request(**NYC), auth)
    pf_emulator.configure(drop_rate=0.0)
    assert post(pf_emulator, stats_request(**NYC, datasetId=40101), auth).status_code == 200
    assert pf_emulator.stats.dropped == 1
    assert pf_emulator.requests[-2].status is None


def test_latency_delays_answers(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    pf_emulator.configure(latency=0.3, latency_jitter=0.1)
    began = time.monotonic()
    assert post(pf_emulator, stats_request(**NYC, datasetId=40101), auth).status_code == 200
    assert time.monotonic() - began >= 0.3


def test_periodic_429_bursts(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(burst_429_every=5, burst_429_length=2, retry_after=0)
    assert statuses(emu, 10) == [200, 200, 200, 429, 429] * 2
    assert emu.stats.rate_limited == 4


def test_fail_next(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    pf_emulator.fail_next(2, status=503)
    pf_emulator.fail_next(1, status=429)
    results = [post(pf_emulator, stats_request(**NYC, datasetId=40101), auth) for _ in range(4)]
    assert [r.status_code for r in results] == [503, 503, 429, 200]
    assert int(results[2].headers["Retry-After"]) >= 1
    pf_emulator.fail_next(1, status=500, path="/auth/token")
    assert get_token(pf_emulator).status_code == 500
    assert get_token(pf_emulator).status_code == 201
    assert pf_emulator.stats.injected_errors == 4


def test_raw_answers_are_sent_verbatim_once(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    pf_emulator.enqueue_raw("/graphql", status=502, body=page, headers={"Content-Type": "text/html"})
    pf_emulator.enqueue_raw("/graphql", body=[{"data": None}])  # a batch answer of the wrong length
    pf_emulator.enqueue_raw("/graphql", status=302, headers={"Location": "https://elsewhere.invalid/graphql"})
    pf_emulator.enqueue_raw("/auth/token", status=201, body={"access_token": "x", "token_type": "Bearer"})
    first = post(pf_emulator, stats_request(**NYC), auth)
    assert (first.status_code, first.content, first.headers["Content-Type"]) == (502, page, "text/html")
    assert post(pf_emulator, [stats_request(**NYC)] * 3, auth).json() == [{"data": None}]
    redirect = post(pf_emulator, stats_request(**NYC), auth, allow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"] == "https://elsewhere.invalid/graphql"
    assert "expires_at" not in get_token(pf_emulator).json()
    assert post(pf_emulator, stats_request(**NYC, datasetId=40101), auth).status_code == 200
    assert pf_emulator.stats.raw_answers == 4


def test_scripted_drop_on_the_token_endpoint(pf_emulator: Emulator) -> None:
    pf_emulator.enqueue_raw("/auth/token", drop=True)
    with pytest.raises(requests.ConnectionError):
        get_token(pf_emulator)
    assert get_token(pf_emulator).status_code == 201
    assert (pf_emulator.stats.dropped, pf_emulator.stats.raw_answers) == (1, 1)


def test_unframeable_body_is_refused_and_the_connection_closed(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    with socket.create_connection((pf_emulator.host, pf_emulator.port), timeout=10) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + auth["Authorization"].encode()
            + b"\r\nContent-Length: many\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
    assert pf_emulator.internal_errors == []


def test_truncated_answer(pf_emulator: Emulator, auth: dict[str, str]) -> None:
    pf_emulator.enqueue_raw("/graphql", body=b'{"data": {"getDatasetStatistics": ', truncate=True)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        post(pf_emulator, stats_request(**NYC), auth)


def test_hang_meets_the_client_timeout_and_stop_stays_quick(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory()
    headers = bearer(emu)
    emu.enqueue_raw("/graphql", body=b"{}", hang=30)
    with pytest.raises(requests.ReadTimeout):
        post(emu, stats_request(**NYC), headers, timeout=0.5)
    began = time.monotonic()
    emu.stop()
    assert time.monotonic() - began < 3


def test_stop_closes_connections_and_releases_the_port(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory()
    session = requests.Session()
    assert session.get(f"{emu.url}/auth/token", auth=(emu.client_id, emu.client_secret), timeout=10).ok
    port = emu.port
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{emu.url}/auth/token", auth=(emu.client_id, emu.client_secret), timeout=10)
    again = pf_emulator_factory(port=port)
    assert again.port == port and get_token(again).status_code == 201


def test_batch_and_body_caps(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(max_batch_size=3, max_body_bytes=2000)
    headers = bearer(emu)
    too_many = post(emu, [stats_request(**NYC)] * 4, headers)
    assert too_many.status_code == 400 and "limit of 3" in too_many.json()["errors"][0]["message"]
    too_big = post(emu, {"query": QUERY + " " * 3000}, headers)
    assert too_big.status_code == 413


# -- observation ----------------------------------------------------------------------------------


def test_stats_and_request_log_never_hold_credentials(pf_emulator: Emulator) -> None:
    token_response = get_token(pf_emulator)
    token = token_response.json()["access_token"]
    post(pf_emulator, [stats_request(**NYC, datasetId=40101)] * 2, {"Authorization": f"Bearer {token}"})
    post(pf_emulator, stats_request(**NYC))
    stats = pf_emulator.stats
    assert (stats.token_requests, stats.graphql_requests, stats.graphql_operations) == (1, 2, 2)
    assert (stats.requests_with_authorization, stats.requests_without_authorization) == (2, 1)
    assert stats.status_counts == {200: 1, 201: 1, 401: 1}
    log = pf_emulator.requests
    assert [(r.path, r.auth_scheme, r.batch_size) for r in log] == [
        ("/auth/token", "Basic", None),
        ("/graphql", "Bearer", 2),
        ("/graphql", None, None),
    ]
    post(pf_emulator, stats_request(**NYC), {"Authorization": token})  # a bare token, no scheme
    assert pf_emulator.requests[-1].auth_scheme == "unknown"
    dump = repr(pf_emulator.requests) + repr(pf_emulator.stats)
    assert token not in dump and pf_emulator.client_secret not in dump
    pf_emulator.reset_stats()
    assert pf_emulator.stats.total_requests == 0 and pf_emulator.requests == []
    assert pf_emulator.internal_errors == []


def test_configure_refuses_startup_settings_and_bad_values(pf_emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="before start"):
        pf_emulator.configure(port=1234)
    with pytest.raises(ValueError):
        pf_emulator.configure(error_rate=2.0)
    with pytest.raises(TypeError):
        pf_emulator.configure(no_such_knob=1)
    with pytest.raises(ValueError, match="loopback"):
        EmulatorConfig(host="0.0.0.0")


# -- TLS, CLI, plugin -------------------------------------------------------------------------------


def test_tls_verifies_with_the_ca_and_fails_without(pf_emulator_factory: Any) -> None:
    emu = pf_emulator_factory(tls=True)
    assert emu.url.startswith("https://127.0.0.1:") and emu.ca_cert_path
    response = requests.get(
        f"{emu.url}/auth/token", auth=(emu.client_id, emu.client_secret), verify=emu.ca_cert_path, timeout=10
    )
    assert response.status_code == 201
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{emu.url}/auth/token", timeout=10)
    localhost = emu.url.replace("127.0.0.1", "localhost")
    assert requests.get(f"{localhost}/auth/token", verify=emu.ca_cert_path, timeout=10).status_code == 401


def test_cli_prints_url_and_credentials_then_serves(tmp_path: Any) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pf_provider.emulator", "--client-id", "cli-id", "--client-secret", "cli-secret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", lines["url"])
        assert (lines["client_id"], lines["client_secret"]) == ("cli-id", "cli-secret")
        response = requests.get(f"{lines['url']}/auth/token", auth=("cli-id", "cli-secret"), timeout=10)
        assert response.status_code == 201
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert response.json()["access_token"] not in proc.stderr.read()


def test_cli_refuses_a_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pf_provider.emulator", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "loopback" in result.stderr and result.stdout == ""


def test_importing_the_plugin_is_cheap() -> None:
    code = (
        "import sys, pf_provider.emulator.pytest_plugin, pf_provider.emulator as e; "
        "heavy = [m for m in ('graphql', 'jwt', 'cryptography', 'requests') if m in sys.modules]; "
        "print(heavy); assert e.EmulatorConfig and 'graphql' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_fixtures_compose(pf_emulator: Emulator, pf_emulator_factory: Any) -> None:
    second = pf_emulator_factory(rate_limit=5)
    assert pf_emulator.running and second.running and pf_emulator.port != second.port
    assert json.loads(get_token(second).text)["token_type"] == "Bearer"
    assert second.config.rate_limit == 5 and pf_emulator.config.rate_limit == 100
