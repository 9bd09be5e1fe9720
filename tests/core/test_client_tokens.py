"""The token lifecycle against the emulator over real HTTP."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from pf_provider import AuthenticationError, PermissionDeniedError, ProbableFuturesClient
from pf_provider.emulator import Emulator, EmulatorConfig


def test_construction_sends_nothing_and_first_use_fetches(emulator, make_client):
    client = make_client(emulator)
    assert emulator.stats.token_requests == 0
    token = client.get_access_token()
    assert token in emulator.issued_tokens
    assert emulator.stats.token_requests == 1
    assert client.get_access_token() == token
    assert emulator.stats.token_requests == 1, "the token is cached"


def test_expiry_comes_from_the_server_not_an_assumed_24_hours(make_client):
    with Emulator(EmulatorConfig(token_lifetime=600)) as emu:
        client = make_client(emu)
        client.get_access_token()
        left = (client.token_expires_at - datetime.now(timezone.utc)).total_seconds()
        assert 500 < left <= 601


@pytest.mark.parametrize("answer", ["201", "500"])
def test_wrong_credentials_raise_authentication_error_naming_the_client_id(answer, canary_secret, make_client):
    with Emulator(EmulatorConfig(wrong_credentials=answer)) as emu:
        client = make_client(emu, client_id="someone-else", client_secret=canary_secret)
        with pytest.raises(AuthenticationError) as caught:
            client.get_dataset_statistics(latitude=40.7, longitude=-73.9, dataset_id=40104)
        message = str(caught.value)
        assert "someone-else" in message
        assert canary_secret not in message and canary_secret not in repr(caught.value)
        assert "Bearer None" not in message and "KeyError" not in message
        assert caught.value.client_id == "someone-else"
        assert emu.stats.graphql_requests == 0, "no GraphQL request without a token"


def test_token_endpoint_401_is_an_authentication_error(emulator, make_client):
    emulator.enqueue_raw("/auth/token", status=401, body=b"Unauthorized", headers={"Content-Type": "text/plain"})
    client = make_client(emulator)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        client.get_access_token()
    assert emulator.stats.graphql_requests == 0


def test_token_expiring_mid_run_is_replaced(make_client):
    with Emulator(EmulatorConfig(token_lifetime=2.0)) as emu:
        client = make_client(emu, refresh_margin=0.5)
        first = client.get_access_token()
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            rows = client.get_dataset_statistics(latitude=10, longitude=10, dataset_id=40101, warming_scenario=1.5)
            assert len(rows) == 1
            time.sleep(0.2)
        assert client.get_access_token() != first
        assert emu.stats.token_requests >= 2
        assert emu.stats.status_counts.get(401, 0) == 0, "refreshed before expiry, not after a 401"


def test_a_401_refreshes_once_and_retries(emulator, make_client):
    client = make_client(emulator)
    client.get_dataset_statistics(latitude=10, longitude=10, dataset_id=40101, warming_scenario=1.5)
    emulator.expire_tokens()
    rows = client.get_dataset_statistics(latitude=10, longitude=10, dataset_id=40101, warming_scenario=1.5)
    assert len(rows) == 1
    assert emulator.stats.token_requests == 2
    assert emulator.stats.status_counts.get(401) == 1


def test_a_second_401_is_an_authentication_error(emulator, make_client):
    body = b'{"errors":[{"message":"invalid signature"}]}'
    for _ in range(2):
        emulator.enqueue_raw("/graphql", status=401, body=body, headers={"Content-Type": "application/json"})
    client = make_client(emulator)
    with pytest.raises(AuthenticationError, match="invalid signature"):
        client.get_dataset_statistics(latitude=10, longitude=10, dataset_id=40101)
    assert emulator.stats.token_requests == 2


def test_403_insufficient_scope(make_client):
    config = EmulatorConfig(clients={"reader-without-scope": "s3"}, client_permissions={"reader-without-scope": ()})
    with Emulator(config) as emu:
        client = make_client(emu, client_id="reader-without-scope", client_secret="s3")
        with pytest.raises(PermissionDeniedError, match="statistics:read"):
            client.get_dataset_statistics(latitude=10, longitude=10, dataset_id=40101)


def test_eight_threads_cause_one_token_request(make_client):
    with Emulator(EmulatorConfig(latency=0.2)) as emu:
        client = make_client(emu)
        barrier = threading.Barrier(8)
        tokens: list[str] = []

        def ask() -> None:
            barrier.wait()
            tokens.append(client.get_access_token())

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(tokens) == 8 and len(set(tokens)) == 1
        assert emu.stats.token_requests == 1


def test_two_clients_share_nothing_secret_through_repr(emulator, canary_secret):
    client = ProbableFuturesClient(emulator.client_id, canary_secret, emulator.url)
    token = client.get_access_token()
    for text in (repr(client), str(client), repr(client._tokens), repr(client._tokens.current), repr(client._secret)):
        assert canary_secret not in text
        assert token not in text
    client.close()
