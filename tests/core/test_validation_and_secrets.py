"""Bad input fails before any request; secrets and tokens reach no log, repr or message."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap

import pytest

from pf_provider import ConfigurationError, GraphQLError, InvalidInputError, ProbableFuturesClient, catalog

BAD_INPUTS = [
    ({"latitude": 91, "longitude": 0}, "latitude must be between -90 and 90"),
    ({"latitude": 0, "longitude": -181}, "longitude must be between -180 and 180"),
    ({"latitude": math.nan, "longitude": 0}, "finite"),
    ({"latitude": "north", "longitude": 0}, "latitude must be a number"),
    ({"latitude": 10}, "longitude is missing"),
    ({}, "no location given"),
    ({"city": "Paris"}, "needs a country or an address"),
    ({"latitude": 1, "longitude": 1, "country": "France"}, "not both"),
    ({"latitude": 1, "longitude": 1, "warming_scenario": 4}, "choose among 0.5, 1.0, 1.5, 2.0, 2.5, 3.0"),
    ({"latitude": 1, "longitude": 1, "warming_scenario": "hot"}, "warming scenario must be one of"),
    ({"latitude": 1, "longitude": 1, "warming_scenario": []}, "empty list"),
    ({"latitude": 1, "longitude": 1, "dataset_id": 99999}, "allow_unknown_datasets=True"),
    ({"latitude": 1, "longitude": 1, "dataset_id": 40101.0}, "must be an integer"),
    ({"latitude": 1, "longitude": 1, "dataset_id": True}, "must be an integer"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS)
def test_bad_input_fails_before_any_request(emulator, make_client, kwargs, message):
    client = make_client(emulator)
    with pytest.raises(InvalidInputError, match=message):
        client.get_dataset_statistics(**kwargs)
    assert emulator.stats.token_requests == 0 and emulator.stats.graphql_requests == 0


def test_scenarios_are_normalised_to_the_servers_strings(emulator, make_client):
    client = make_client(emulator)
    (query,) = client.statistics_queries((1, 2), warming_scenario=[0.5, "1", 2.50, "3.0"])
    assert query.variables()["input"]["warmingScenario"] == ["0.5", "1.0", "2.5", "3.0"]


def test_dataset_ids_newer_than_the_catalog_can_be_allowed(emulator, make_client):
    client = make_client(emulator, allow_unknown_datasets=True)
    assert client.get_dataset_statistics(latitude=1, longitude=1, dataset_id=99999) == []
    assert emulator.stats.graphql_requests == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://graphql.probablefutures.org", "(?i)use https://"),
        ("http://10.0.0.5:8080", "plain http:// is refused"),
        ("graphql.probablefutures.org", "has no scheme"),
        ("ftp://example.org", "must use https://"),
        ("https://user:pw@example.org", "must not carry credentials"),
    ],
)
def test_api_url_policy(url, message):
    with pytest.raises(ConfigurationError, match=message):
        ProbableFuturesClient("id", "secret", url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_is_allowed_on_loopback(url):
    assert ProbableFuturesClient("id", "secret", url).api_url.startswith("http://")


@pytest.mark.parametrize("timeout", [None, 0, -1, math.inf, (1, None), "10"])
def test_every_request_needs_a_finite_timeout(timeout):
    with pytest.raises(ConfigurationError, match="timeout"):
        ProbableFuturesClient("id", "secret", timeout=timeout)


def test_verification_cannot_be_switched_off():
    with pytest.raises(TypeError):
        ProbableFuturesClient("id", "secret", verify=False)  # type: ignore[call-arg]


def test_tls_is_verified(make_client):
    from pf_provider import TransportError
    from pf_provider.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(tls=True)) as emu:
        assert emu.url.startswith("https://")
        with pytest.raises(TransportError, match="TLS verification failed"):
            make_client(emu).get_access_token()
        assert make_client(emu, ca_bundle=emu.ca_cert_path).get_access_token()


def test_canary_secret_and_token_reach_no_log_repr_or_message(emulator, make_client, canary_secret, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    client = make_client(emulator)
    texts: list[str] = []
    client.get_dataset_statistics(latitude=1, longitude=1, dataset_id=40101, warming_scenario=1.5)
    emulator.expire_tokens()
    client.get_dataset_statistics(latitude=1, longitude=1, dataset_id=40101, warming_scenario=1.5)
    emulator.fail_next(1, status=503)
    client.get_dataset_statistics(latitude=2, longitude=1, dataset_id=40101, warming_scenario=1.5)
    for call in (
        lambda: client.get_dataset_statistics(latitude=1, longitude=999),
        lambda: client.execute("mutation { nope }"),
        lambda: client.execute(
            "mutation($i: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $i) { clientMutationId } }",
            {"i": {"latitude": 1.0, "longitude": 500.0}},
        ),
    ):
        with pytest.raises(Exception) as caught:
            call()
        texts += [str(caught.value), repr(caught.value)]
    wrong = make_client(emulator, client_secret=canary_secret + "-wrong")
    with pytest.raises(Exception) as caught:
        wrong.get_access_token()
    texts += [str(caught.value), repr(caught.value), repr(wrong), repr(client)]
    tokens = list(emulator.issued_tokens)
    assert len(tokens) >= 2
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 debug logging was captured"
    texts += [r.getMessage() for r in caplog.records]
    haystack = "\n".join(texts)
    assert canary_secret not in haystack
    for token in tokens:
        assert token not in haystack


def test_import_needs_neither_airflow_nor_prefect_and_sends_nothing():
    code = textwrap.dedent(
        """
        import socket, sys
        sys.modules["airflow"] = None
        sys.modules["prefect"] = None
        def refuse(*args, **kwargs):
            raise AssertionError("network access at import time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        import pf_provider
        from pf_provider import ProbableFuturesClient, catalog, extract, cli, get_provider_info
        ProbableFuturesClient("id", "secret")
        assert get_provider_info()["package-name"] == "pf-provider"
        assert len(catalog.all_datasets()) == 30
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_catalog_has_the_thirty_published_maps():
    datasets = catalog.all_datasets()
    assert len(datasets) == 30 and len({d.dataset_id for d in datasets}) == 30
    assert {d.category for d in datasets} == set(catalog.MAP_CATEGORIES)
    zones = catalog.get_dataset(40901)
    assert catalog.get_dataset_by_slug("climate_zones") is zones
    assert zones.bin_labels and catalog.climate_zone_name(1) == zones.bin_labels[0]
    assert all(d.min_value < d.max_value for d in datasets)
    with pytest.raises(KeyError, match="known ids"):
        catalog.get_dataset(1)


def test_a_server_echoing_credentials_does_not_pass_them_on(emulator, make_client, canary_secret):
    client = make_client(emulator)
    token = client.get_access_token()
    body = json.dumps(
        {"data": None, "errors": [{"message": f"bad token {token} for secret {canary_secret}", "path": ["x"]}]}
    ).encode()
    emulator.enqueue_raw("/graphql", status=200, body=body, headers={"Content-Type": "application/json"})
    with pytest.raises(GraphQLError) as caught:
        client.execute(
            "mutation($i: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $i) { clientMutationId } }",
            {"i": {"latitude": 1.0, "longitude": 1.0}},
        )
    text = str(caught.value) + repr(caught.value) + repr(caught.value.errors)
    assert "bad token *** for secret ***" in text
    assert token not in text and canary_secret not in text
