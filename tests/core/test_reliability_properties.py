"""Property-based tests (hypothesis) of input validation and record parsing.

Anything invalid is refused before a request with an InvalidInputError (or ConfigurationError)
that names what to fix; anything valid is accepted and round-trips; arbitrary input never
escapes as another exception type. Every test runs derandomized: CI sees the same examples
on every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains
from urllib3.util import parse_url

from pf_provider import (
    ConfigurationError,
    DatasetStatistic,
    GraphQLError,
    InvalidInputError,
    InvalidResponseError,
    RateLimiter,
    catalog,
)
from pf_provider.auth import jwt_expiry, parse_expires_at
from pf_provider.client import result_data
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.errors import GraphQLErrorDetail
from pf_provider.models import FIELD_NAMES, normalize_fields, parse_statistics_payload
from pf_provider.transport import is_loopback, normalize_api_url, retry_after_seconds
from pf_provider.validation import (
    Location,
    coerce_location,
    normalize_dataset_ids,
    normalize_scenarios,
    validate_location,
)

PROPERTY = settings(derandomize=True, deadline=None, max_examples=120, database=None)
FEW = settings(PROPERTY, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])

SCENARIOS = catalog.WARMING_SCENARIOS
DATASET_IDS = tuple(d.dataset_id for d in catalog.all_datasets())

# -- values in every form callers use ------------------------------------------------------------


def forms_of(number: float) -> st.SearchStrategy[Any]:
    """A number as Python, text (padded), Decimal, and an int when it is whole."""
    options: list[Any] = [number, repr(number), f"  {number!r} ", Decimal(repr(number))]
    if float(number).is_integer():
        options += [int(number), str(int(number))]
    return st.sampled_from(options)


def coordinate(limit: float) -> st.SearchStrategy[Any]:
    return st.floats(-limit, limit, allow_nan=False).flatmap(forms_of)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ANYTHING = st.recursive(
    JSON_SCALARS | st.binary(max_size=8) | st.decimals() | st.just(10**400),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3)
    ),
    max_leaves=6,
)


def refuses_or_returns(call: Callable[[], Any], error: type[Exception] = InvalidInputError) -> Any:
    """The call's value, or None when it raised ``error`` (with a message); anything else fails."""
    try:
        return call()
    except error as exc:
        assert str(exc).strip(), "an error must say what to fix"
        return None


def not_a_float(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return True
    return False


# -- locations ------------------------------------------------------------------------------------


@PROPERTY
@given(latitude=coordinate(90), longitude=coordinate(180))
def test_valid_points_are_accepted_in_any_form_and_round_trip(latitude, longitude):
    location = validate_location(latitude=latitude, longitude=longitude)
    assert location.latitude == float(str(latitude).strip()) and location.longitude == float(str(longitude).strip())
    assert validate_location(**location.to_input()) == location
    assert coerce_location(location.to_input()) == location == coerce_location((latitude, longitude))
    assert coerce_location({"lat": latitude, "lng": longitude, "site_id": "x"}) == location


BAD_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, "nan", "-inf", "Infinity", True, False, 10**400]),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("1e999")]),
    st.text(min_size=1, max_size=10).filter(not_a_float),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@PROPERTY
@given(
    bad=st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) > 90), BAD_NUMBERS),
    longitude=coordinate(180),
)
@example(bad=10**400, longitude=0)
@example(bad=Decimal("sNaN"), longitude=0)
def test_a_bad_latitude_is_refused_naming_it(bad, longitude):
    with pytest.raises(InvalidInputError, match=r"latitude must be"):
        validate_location(latitude=bad, longitude=longitude)


@PROPERTY
@given(
    latitude=coordinate(90),
    bad=st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) > 180), BAD_NUMBERS),
)
def test_a_bad_longitude_is_refused_naming_it(latitude, bad):
    with pytest.raises(InvalidInputError, match=r"longitude must be"):
        validate_location(latitude=latitude, longitude=bad)


PLACE = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() and len(t.strip()) <= 500)


@PROPERTY
@given(country=st.none() | PLACE, city=st.none() | PLACE, address=st.none() | PLACE)
def test_places_are_accepted_exactly_when_the_server_can_resolve_them(country, city, address):
    result = refuses_or_returns(lambda: validate_location(country=country, city=city, address=address))
    if not (country or city or address) or (city and not (country or address)):
        assert result is None
    else:
        assert result == Location(
            country=country.strip() if country else None,
            city=city.strip() if city else None,
            address=address.strip() if address else None,
        )
        assert validate_location(**result.to_input()) == result


@PROPERTY
@given(a=ANYTHING, b=ANYTHING, c=ANYTHING)
@example(a={1: 2, "x": 3}, b=None, c=None)
def test_arbitrary_location_input_is_validated_or_refused_never_crashes(a, b, c):
    for call in (
        lambda: validate_location(latitude=a, longitude=b),
        lambda: validate_location(country=a, city=b, address=c),
        lambda: validate_location(latitude=a, longitude=b, country=c),
        lambda: coerce_location(a),
        lambda: coerce_location((a, b)),
    ):
        location = refuses_or_returns(call)
        if location is not None:
            assert isinstance(location, Location)
            assert validate_location(**location.to_input()) == location


# -- scenarios, dataset ids, fields -----------------------------------------------------------------


def scenario_forms(scenario: str) -> st.SearchStrategy[Any]:
    value = float(scenario)
    return st.sampled_from([scenario, value, f" {scenario} ", Decimal(scenario + "0"), f"{value:.2f}"]) | (
        st.sampled_from([int(value), str(int(value))]) if value.is_integer() else st.nothing()
    )


@PROPERTY
@given(chosen=st.lists(st.sampled_from(SCENARIOS), min_size=1, max_size=8), data=st.data())
def test_valid_scenarios_in_any_form_become_the_servers_strings(chosen, data):
    values = [data.draw(scenario_forms(s)) for s in chosen]
    expected = tuple(dict.fromkeys(chosen))
    assert normalize_scenarios(values) == expected
    assert normalize_scenarios(",".join(chosen)) == expected
    assert normalize_scenarios(values[0]) == (chosen[0],)
    assert normalize_scenarios(expected) == expected


@PROPERTY
@given(bad=st.floats().filter(lambda v: not any(v == float(s) for s in SCENARIOS)))
def test_a_scenario_that_is_not_served_is_refused_listing_the_choices(bad):
    with pytest.raises(InvalidInputError, match=r"0\.5, 1\.0, 1\.5, 2\.0, 2\.5, 3\.0"):
        normalize_scenarios(bad)
    with pytest.raises(InvalidInputError, match=r"0\.5, 1\.0, 1\.5, 2\.0, 2\.5, 3\.0"):
        normalize_scenarios(["1.5", bad])


def id_forms(dataset_id: int) -> st.SearchStrategy[Any]:
    return st.sampled_from([dataset_id, str(dataset_id), f" {dataset_id} "])


@PROPERTY
@given(chosen=st.lists(st.sampled_from(DATASET_IDS), min_size=1, max_size=6), data=st.data())
def test_catalog_dataset_ids_in_any_form_are_accepted(chosen, data):
    values = [data.draw(id_forms(d)) for d in chosen]
    expected = tuple(dict.fromkeys(chosen))
    assert normalize_dataset_ids(values) == expected
    assert normalize_dataset_ids(", ".join(map(str, chosen))) == expected
    assert normalize_dataset_ids(values[0]) == (chosen[0],)


@PROPERTY
@given(dataset_id=st.integers().filter(lambda i: i not in DATASET_IDS))
def test_unknown_dataset_ids_are_refused_unless_allowed_and_in_range(dataset_id):
    with pytest.raises(InvalidInputError, match=r"allow_unknown_datasets=True|out of range"):
        normalize_dataset_ids(dataset_id)
    if 0 < dataset_id < 2**31:
        assert normalize_dataset_ids(str(dataset_id), allow_unknown=True) == (dataset_id,)
    else:
        with pytest.raises(InvalidInputError, match=r"out of range"):
            normalize_dataset_ids(dataset_id, allow_unknown=True)


@PROPERTY
@given(value=ANYTHING | st.text())
@example(value="²")
@example(value="9" * 5000)
@example(value=2**40)
def test_arbitrary_scenario_and_dataset_input_never_crashes(value):
    for allow in (False, True):
        ids = refuses_or_returns(lambda allow=allow: normalize_dataset_ids(value, allow_unknown=allow))
        if ids is not None:
            assert ids and all(type(i) is int and 0 < i < 2**31 for i in ids)
            assert allow or set(ids) <= set(DATASET_IDS)
    scenarios = refuses_or_returns(lambda: normalize_scenarios(value))
    assert scenarios is None or set(scenarios) <= set(SCENARIOS)


NAMES = st.sampled_from([*FIELD_NAMES, *FIELD_NAMES.values()])


@PROPERTY
@given(names=st.lists(NAMES, max_size=10))
def test_fields_by_either_name_give_graphql_names_with_the_identifying_two_first(names):
    fields = normalize_fields(names)
    assert fields[:2] == ("datasetId", "warmingScenario")
    assert len(fields) == len(set(fields)) and set(fields) <= set(FIELD_NAMES.values())
    assert {FIELD_NAMES.get(n, n) for n in names} <= set(fields)
    assert normalize_fields(fields) == fields == normalize_fields(",".join(names) or [])


@PROPERTY
@given(value=ANYTHING | st.lists(st.text(max_size=12), max_size=4))
@example(value=5)
def test_unknown_fields_are_refused_listing_the_choices(value):
    fields = refuses_or_returns(lambda: normalize_fields(value))
    if fields is not None:
        assert fields[:2] == ("datasetId", "warmingScenario")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        with pytest.raises(InvalidInputError, match="choose among dataset_id, name"):
            normalize_fields(value)


# -- refused before a request, accepted and answered otherwise ----------------------------------------


@pytest.fixture(scope="module")
def quiet_emulator():
    with Emulator(EmulatorConfig(rate_limit=None)) as emu:
        yield emu


@pytest.fixture(scope="module")
def module_client(quiet_emulator):
    from pf_provider import ProbableFuturesClient

    with ProbableFuturesClient(
        quiet_emulator.client_id, quiet_emulator.client_secret, quiet_emulator.url, rate_limiter=None
    ) as client:
        yield client


BAD_SCENARIO = st.one_of(
    st.floats().filter(lambda v: not any(v == float(s) for s in SCENARIOS)),
    st.text(max_size=8).filter(lambda t: "," not in t and not_a_float(t)),
    st.sampled_from([[], [4.0], ["1.5", "hot"], True, {"1.5": 1}, Decimal("sNaN"), 10**400]),
)
BAD_CALLS = st.one_of(
    st.fixed_dictionaries({"latitude": BAD_NUMBERS, "longitude": coordinate(180)}),
    st.fixed_dictionaries({"latitude": coordinate(90), "longitude": BAD_NUMBERS}),
    st.fixed_dictionaries({"latitude": coordinate(90), "longitude": coordinate(180), "warming_scenario": BAD_SCENARIO}),
    st.fixed_dictionaries(
        {
            "latitude": coordinate(90),
            "longitude": coordinate(180),
            "dataset_id": st.integers().filter(lambda i: i not in DATASET_IDS) | BAD_NUMBERS,
        }
    ),
    st.fixed_dictionaries(
        {"latitude": coordinate(90), "longitude": coordinate(180), "fields": st.lists(st.text(max_size=6), min_size=1)}
    ).filter(lambda kw: not set(kw["fields"]) <= {*FIELD_NAMES, *FIELD_NAMES.values(), ""}),
    st.fixed_dictionaries({"city": PLACE}),
    st.fixed_dictionaries({"latitude": coordinate(90), "longitude": coordinate(180), "country": PLACE}),
)


@PROPERTY
@given(kwargs=BAD_CALLS)
@example(kwargs={"latitude": 1, "longitude": 1, "fields": 5})
@example(kwargs={"latitude": 1, "longitude": 1, "dataset_id": "²"})
def test_invalid_calls_are_refused_before_any_request(quiet_emulator, module_client, kwargs):
    before = quiet_emulator.stats.total_requests
    with pytest.raises(InvalidInputError) as caught:
        module_client.get_dataset_statistics(**kwargs)
    assert str(caught.value).strip()
    assert quiet_emulator.stats.total_requests == before, "nothing was sent, not even a token request"


@FEW
@given(
    latitude=coordinate(90),
    longitude=coordinate(180),
    scenarios=st.lists(st.sampled_from(SCENARIOS), min_size=1, max_size=3, unique=True),
    datasets=st.lists(st.sampled_from(DATASET_IDS), min_size=1, max_size=3, unique=True),
)
def test_valid_calls_round_trip_through_the_server(module_client, latitude, longitude, scenarios, datasets):
    rows = module_client.get_dataset_statistics(
        latitude=latitude, longitude=longitude, warming_scenario=scenarios, dataset_id=datasets
    )
    assert sorted((r.dataset_id, r.warming_scenario) for r in rows) == sorted(
        (d, s) for d in datasets for s in scenarios
    )
    for stat in rows:
        assert DatasetStatistic.from_graphql(to_graphql(stat.to_dict())).to_dict() == stat.to_dict()


# -- the API URL ----------------------------------------------------------------------------------


def url_text() -> st.SearchStrategy[str]:
    hosts = st.one_of(
        domains(),
        st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
        st.sampled_from(["localhost", "127.0.0.1", "[::1]", "LOCALHOST", "evil.localhost.com", "127.0.0.1.nip.io"]),
        st.text(max_size=12),
    )
    return st.builds(
        lambda scheme, userinfo, host, port, path, tail: f"{scheme}{userinfo}{host}{port}{path}{tail}",
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "", "https:/", "//"]),
        st.sampled_from(["", "", "", "user:pw@", "@", "127.0.0.1@"]),
        hosts,
        st.sampled_from(["", ":443", ":8080", ":0", ":99999", ":x", ":"]),
        st.sampled_from(["", "/", "/graphql", "/auth/token", "/api/", "/a b"]),
        st.sampled_from(["", "", "?q=1", "#frag", "\\@evil.com", "\t.evil.com"]),
    )


@PROPERTY
@given(text=url_text() | st.text(max_size=40))
@example(text="https://[::1")
@example(text="https://exa mple.org")
@example(text="http://127.0.0.1\\@evil.com")
def test_any_api_url_is_normalised_or_refused_and_plain_http_only_reaches_loopback(text):
    url = refuses_or_returns(lambda: normalize_api_url(text), ConfigurationError)
    if url is None:
        return
    assert normalize_api_url(url) == url, "normalising is idempotent"
    scheme, _, _ = url.partition("://")
    assert scheme in ("https", "http")
    host = parse_url(url + "/graphql").host  # where requests (urllib3) will connect
    if scheme == "http":
        assert is_loopback(host or ""), f"{text!r} -> {url!r} sends plain http to {host!r}"


@PROPERTY
@given(
    host=domains(),
    port=st.none() | st.integers(1, 65535),
    path=st.lists(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), max_size=3),
    suffix=st.sampled_from(["", "/", "/graphql", "/auth/token"]),
)
def test_valid_https_urls_are_kept(host, port, path, suffix):
    base = f"https://{host}" + (f":{port}" if port else "") + "".join(f"/{p}" for p in path)
    assert normalize_api_url(base + suffix) == base.lower()


@PROPERTY
@given(
    host=st.one_of(
        st.ip_addresses(v=4).filter(lambda ip: not ip.is_loopback).map(str),
        st.ip_addresses(v=6).filter(lambda ip: not ip.is_loopback).map(lambda ip: f"[{ip}]"),
        domains().filter(lambda d: not is_loopback(d)),
    ),
    port=st.sampled_from(["", ":80", ":8080"]),
)
def test_plain_http_off_loopback_is_refused(host, port):
    with pytest.raises(ConfigurationError, match=r"plain http:// is refused.*https://"):
        normalize_api_url(f"http://{host}{port}")


@PROPERTY
@given(
    host=st.one_of(
        st.ip_addresses(network="127.0.0.0/8").map(str),
        st.sampled_from(["localhost", "[::1]", "LocalHost", "[0:0:0:0:0:0:0:1]"]),
    ),
    port=st.sampled_from(["", ":80", ":8080"]),
)
def test_plain_http_on_loopback_is_allowed(host, port):
    url = normalize_api_url(f"http://{host}{port}/graphql")
    assert url == f"http://{host.lower()}{port}"
    assert is_loopback(parse_url(url).host)


# -- records ----------------------------------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False)
BIGFLOAT = st.one_of(FINITE.map(repr), FINITE, st.integers(-(10**6), 10**6), st.sampled_from(["inf", "-inf", "NaN"]))
OPTIONAL_TEXT = st.none() | st.text(max_size=20)
VALID_ROW = st.fixed_dictionaries(
    {
        "datasetId": st.integers(1, 2**31 - 1) | st.sampled_from(DATASET_IDS).map(str),
        "warmingScenario": st.sampled_from(SCENARIOS)
        .flatmap(scenario_forms)
        .filter(lambda v: not isinstance(v, Decimal)),
    },
    optional={
        "name": OPTIONAL_TEXT,
        "unit": OPTIONAL_TEXT,
        "lowValue": st.none() | BIGFLOAT,
        "midValue": st.none() | BIGFLOAT,
        "highValue": st.none() | BIGFLOAT,
        "latitude": st.none() | FINITE,
        "longitude": st.none() | FINITE,
        "mapCategory": OPTIONAL_TEXT,
        "info": st.none() | st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3),
        "values": st.none() | st.lists(BIGFLOAT, max_size=101),
        "cumulativeProbability": st.none() | st.lists(BIGFLOAT, max_size=5),
    },
)
_ATTR = {v: k for k, v in FIELD_NAMES.items()}


def number_or_none(raw: Any) -> float | None:
    if raw is None:
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def expected_dict(row: dict[str, Any]) -> dict[str, Any]:
    """What to_dict() must give for a valid row, computed independently of the package."""
    numbers = ("lowValue", "midValue", "highValue", "latitude", "longitude")
    lists = ("values", "cumulativeProbability")
    result: dict[str, Any] = {attr: None for attr in FIELD_NAMES}
    for name, raw in row.items():
        if name == "datasetId":
            value: Any = int(raw)
        elif name == "warmingScenario":
            value = f"{float(str(raw).strip()):.1f}"
        elif name in numbers:
            value = number_or_none(raw)
        elif name in lists:
            value = None if raw is None else [number_or_none(v) for v in raw]
        else:
            value = raw
        result[_ATTR[name]] = value
    return result


def to_graphql(data: dict[str, Any]) -> dict[str, Any]:
    """A to_dict() result as the server would send it: camelCase, BigFloats as text."""
    texts = {"low_value", "mid_value", "high_value"}
    row = {}
    for attr, value in data.items():
        if attr in texts and value is not None:
            value = repr(value)
        elif attr in ("values", "cumulative_probability") and value is not None:
            value = [None if v is None else repr(v) for v in value]
        row[FIELD_NAMES[attr]] = value
    return row


@PROPERTY
@given(row=VALID_ROW)
@example(row={"datasetId": 40101, "warmingScenario": "1.5", "lowValue": "1e400", "values": ["nan", "2"]})
def test_valid_rows_parse_to_json_safe_dicts_and_round_trip(row):
    stat = DatasetStatistic.from_graphql(row)
    data = stat.to_dict()
    assert data == expected_dict(row)
    assert DatasetStatistic._checked(row).to_dict() == data, "the fast path and the checked path agree"
    again = to_graphql({k: v for k, v in data.items()})
    if any(v is None for v in (data["values"] or []) + (data["cumulative_probability"] or [])):
        return  # a non-finite percentile became None (JSON-safe); None is no number to send back
    assert DatasetStatistic.from_graphql(again).to_dict() == data


def bad_value_for(field: str) -> st.SearchStrategy[Any]:
    not_number = st.one_of(
        st.booleans(),
        st.text(max_size=8).filter(not_a_float),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.just(10**400),
    )
    if field == "datasetId":
        return st.one_of(
            st.none(),
            st.booleans(),
            st.floats().filter(lambda v: not v.is_integer()),
            st.text(max_size=8).filter(lambda t: not_int(t)),
            st.lists(st.integers(), max_size=2),
        )
    if field == "warmingScenario":
        return st.one_of(st.none(), st.booleans(), st.text(max_size=8).filter(not_a_float), st.lists(st.integers()))
    if field in ("lowValue", "midValue", "highValue", "latitude", "longitude"):
        return not_number
    if field in ("name", "unit", "mapCategory"):
        return st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(), max_size=2))
    if field == "info":
        return st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
    bad_element = st.one_of(
        st.none(), st.booleans(), st.text(max_size=5).filter(not_a_float), st.just(10**400), st.just([1])
    )
    return st.one_of(
        st.text(max_size=5),
        st.integers(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.tuples(st.lists(BIGFLOAT, max_size=5), bad_element, st.lists(BIGFLOAT, max_size=5)).map(
            lambda parts: [*parts[0], parts[1], *parts[2]]
        ),
    )


def not_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


@PROPERTY
@given(row=VALID_ROW, field=st.sampled_from([*FIELD_NAMES.values()]), data=st.data())
@example(row={"datasetId": 1, "warmingScenario": "1.5"}, field="datasetId", data=None)
def test_a_row_with_one_bad_field_is_refused_naming_it(row, field, data):
    bad = float("inf") if data is None else data.draw(bad_value_for(field))
    corrupt = {**row, field: bad}
    with pytest.raises(InvalidResponseError) as caught:
        DatasetStatistic.from_graphql(corrupt).to_dict()
    assert field in str(caught.value), str(caught.value)


@PROPERTY
@given(payload=JSON)
@example(payload={"datasetStatisticsResponses": [{"datasetId": 1, "warmingScenario": "1", "lowValue": 10**400}]})
def test_arbitrary_payloads_parse_or_raise_invalid_response(payload):
    rows = refuses_or_returns(lambda: [s.to_dict() for s in parse_statistics_payload(payload)], InvalidResponseError)
    assert rows is None or isinstance(rows, list)


@PROPERTY
@given(item=JSON)
@example(item={"errors": [{"message": "m", "locations": [{"line": None}, {"line": "x"}, "y"]}]})
def test_arbitrary_results_and_error_entries_never_crash(item):
    try:
        result_data(item)
    except (GraphQLError, InvalidResponseError) as exc:
        assert str(exc)
    for entry in item if isinstance(item, list) else [item]:
        assert isinstance(str(GraphQLErrorDetail.from_json(entry)), str)


@PROPERTY
@given(retry_after=st.none() | st.text(max_size=40), reset=st.none() | st.text(max_size=12))
@example(retry_after="Mon, 01 Jan 99999 00:00:00 GMT", reset=None)
@example(retry_after="1e309", reset="-1")
def test_wait_headers_always_give_a_finite_non_negative_wait_or_none(retry_after, reset):
    headers = {k: v for k, v in (("Retry-After", retry_after), ("RateLimit-Reset", reset)) if v is not None}
    wait = retry_after_seconds(headers)
    assert wait is None or (math.isfinite(wait) and wait >= 0)


@PROPERTY
@given(
    limit=st.none() | st.text(max_size=10) | FINITE.map(repr),
    remaining=st.none() | st.text(max_size=10) | FINITE.map(repr),
    reset=st.none() | st.text(max_size=10) | FINITE.map(repr) | st.sampled_from(["1e12", "31536000"]),
)
def test_rate_limit_headers_never_make_the_pacer_wait_beyond_one_window(limit, remaining, reset):
    clock = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(limit=10, window=5.0, clock=lambda: clock[0], sleep=sleep)
    limiter.acquire()
    headers = {
        k: v for k, v in (("RateLimit-Limit", limit), ("RateLimit-Remaining", remaining), ("RateLimit-Reset", reset))
    }
    limiter.observe({k: v for k, v in headers.items() if v is not None})
    assert limiter.acquire() <= 5.0
    assert all(s <= 5.0 for s in slept)


@PROPERTY
@given(raw=JSON | st.datetimes().map(lambda d: d.isoformat()) | st.datetimes().map(lambda d: d.isoformat() + "Z"))
@example(raw="0001-01-01T00:00:00+01:00")
@example(raw="9999-12-31T23:59:59-01:00")
def test_expiry_parsing_gives_an_aware_datetime_or_none(raw):
    moment = parse_expires_at(raw)
    assert moment is None or (isinstance(moment, datetime) and moment.utcoffset() is not None)
    if isinstance(raw, str):
        expiry = jwt_expiry(raw)
        assert expiry is None or expiry.utcoffset() is not None
