"""Fixtures of the core suite: an emulator per test, clients bound to it, a canary secret."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pf_provider import ProbableFuturesClient, RetryPolicy
from pf_provider.emulator import Emulator, EmulatorConfig

FAST_RETRY = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
def canary_secret() -> str:
    """A secret that must never show up anywhere the package writes."""
    return f"canary-secret-{uuid.uuid4().hex}"


@pytest.fixture
def emulator(canary_secret: str) -> Iterator[Emulator]:
    """An emulator whose demo client has the canary secret."""
    with Emulator(EmulatorConfig(client_id="canary-client", client_secret=canary_secret)) as emu:
        yield emu


@pytest.fixture
def make_client() -> Iterator[Callable[..., ProbableFuturesClient]]:
    """Build clients with fast retries and their own pacer; closed at teardown."""
    made: list[ProbableFuturesClient] = []

    def make(emu: Emulator, **overrides: Any) -> ProbableFuturesClient:
        kwargs: dict[str, Any] = {"retry": FAST_RETRY, "rate_limiter": None, "timeout": (5, 10)}
        kwargs.update(overrides)
        client = ProbableFuturesClient(
            kwargs.pop("client_id", emu.client_id),
            kwargs.pop("client_secret", emu.client_secret),
            kwargs.pop("api_url", emu.url),
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(emulator: Emulator, make_client: Callable[..., ProbableFuturesClient]) -> ProbableFuturesClient:
    return make_client(emulator)
