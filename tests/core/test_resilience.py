"""Retries, pacing and 429s against the emulator's fault knobs."""

from __future__ import annotations

import time

import pytest

from pf_provider import RateLimiter, RateLimitError, RetryPolicy, TransportError
from pf_provider.emulator import Emulator, EmulatorConfig

POINT = {"latitude": 12.0, "longitude": 34.0, "dataset_id": 40101, "warming_scenario": 1.5}


def test_5xx_then_retry(emulator, make_client):
    client = make_client(emulator)
    client.get_access_token()
    emulator.fail_next(2, status=503)
    assert len(client.get_dataset_statistics(**POINT)) == 1
    assert client.transport_stats["retries"] == 2


def test_5xx_until_the_attempts_run_out(emulator, make_client):
    client = make_client(emulator, retry=RetryPolicy(max_attempts=3, backoff_initial=0.01))
    client.get_access_token()
    emulator.fail_next(5, status=502)
    with pytest.raises(TransportError, match="502 on each of 3 attempts"):
        client.get_dataset_statistics(**POINT)


def test_dropped_connections_are_retried(make_client):
    with Emulator(EmulatorConfig(drop_rate=0.5, seed=3)) as emu:
        client = make_client(emu, retry=RetryPolicy(max_attempts=10, backoff_initial=0.01, backoff_max=0.02))
        for i in range(10):
            assert len(client.get_dataset_statistics(**{**POINT, "latitude": i})) == 1
        assert emu.stats.dropped > 0


def test_429_then_wait(emulator, make_client):
    client = make_client(emulator)
    client.get_access_token()
    emulator.configure(retry_after=1)
    emulator.fail_next(1, status=429)
    started = time.monotonic()
    assert len(client.get_dataset_statistics(**POINT)) == 1
    assert time.monotonic() - started >= 1.0, "Retry-After was honoured"
    assert client.transport_stats["rate_limit_waits"] == 1
    assert emulator.stats.rate_limited == 1


def test_429_asking_for_too_long_a_wait_raises(emulator, make_client):
    client = make_client(emulator, retry=RetryPolicy(max_retry_after=0.5))
    client.get_access_token()
    emulator.configure(retry_after=30)
    emulator.fail_next(1, status=429)
    with pytest.raises(RateLimitError) as caught:
        client.get_dataset_statistics(**POINT)
    assert caught.value.retry_after == pytest.approx(30)


def test_pacing_keeps_429s_away_under_a_short_window(make_client):
    with Emulator(EmulatorConfig(rate_limit=5, rate_window=1.0)) as emu:
        client = make_client(emu, rate_limiter=RateLimiter(limit=100, window=60))
        for i in range(14):
            client.get_dataset_statistics(**{**POINT, "latitude": i})
        assert emu.stats.graphql_requests == 14
        assert emu.stats.rate_limited <= 1, "at most the first window is guessed; the headers then pace"
        assert client.transport_stats["rate_limit_waits"] == emu.stats.rate_limited


def test_the_limiter_follows_the_server_headers():
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(limit=100, window=60, clock=lambda: clock[0], sleep=sleep)
    limiter.acquire()
    limiter.observe({"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "2"})
    assert limiter.acquire() == pytest.approx(2.0)
    assert slept == [pytest.approx(2.0)]
    limiter.block_for(5)
    assert limiter.acquire() == pytest.approx(5.0)


def test_an_explicit_limit_is_a_ceiling_the_server_headers_cannot_raise():
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    share = RateLimiter(limit=5, window=60, clock=lambda: clock[0], sleep=sleep)
    follower = RateLimiter(clock=lambda: clock[0], sleep=sleep)
    for limiter in (share, follower):
        limiter.acquire()
        limiter.observe({"RateLimit-Limit": "300", "RateLimit-Remaining": "299", "RateLimit-Reset": "60"})
    assert share.status().limit == 5 and share.status().remaining == 4
    assert follower.status().limit == 300
    clock[0] = 61.0  # a new window: the share is 5 again, not the server's 300
    waited = [share.acquire() for _ in range(6)]
    assert waited[:5] == [0.0] * 5 and waited[5] > 0


def test_a_share_of_the_limit_holds_against_the_real_server(make_client):
    with Emulator(EmulatorConfig(rate_limit=100, rate_window=1.5)) as emu:
        client = make_client(emu, rate_limiter=RateLimiter(limit=4, window=1.5))
        started = time.monotonic()
        for i in range(12):
            client.get_dataset_statistics(**{**POINT, "latitude": i})
        assert time.monotonic() - started >= 2 * 1.5 * 0.9, "12 requests at 4 per window need three windows"
        assert emu.stats.rate_limited == 0
