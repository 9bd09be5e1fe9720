"""One rate limit for every worker: a Prefect global concurrency limit used as a rate limit.

The API allows 100 requests a minute per client IP in fixed 60-second windows. The client's
own limiter paces the requests of one process; workers on several processes or machines
behind one egress IP need a shared budget, which a Prefect global concurrency limit with
slot decay provides: each request first takes a slot with
:func:`prefect.concurrency.sync.rate_limit`.

A limit of ``limit`` slots decaying at ``rate`` slots a second lets at most
``limit + 60 * rate`` requests through in any 60 seconds (a full burst, then the refill),
so :func:`rate_limit_settings` splits the API's budget in half: 50 slots decaying at 50/60
a second for 100 requests a minute.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..ratelimit import DEFAULT_LIMIT, RateLimiter

DEFAULT_RATE_LIMIT_NAME = "probable-futures-api"
"""The name the docs and the example flows use for the global rate limit."""

DEFAULT_SLOT_TIMEOUT = 900.0
"""Seconds a request waits for a slot before failing: a stuck limit must not hang a worker forever."""


@dataclass(frozen=True)
class RateLimitSettings:
    """The global concurrency limit that keeps a fleet under ``requests_per_minute``."""

    name: str
    limit: int
    slot_decay_per_second: float

    @property
    def cli(self) -> str:
        """The ``prefect gcl create`` command that creates this limit."""
        return (
            f"prefect gcl create {self.name} --limit {self.limit} "
            f"--slot-decay-per-second {self.slot_decay_per_second:.6g}"
        )


def rate_limit_settings(
    name: str = DEFAULT_RATE_LIMIT_NAME, requests_per_minute: int = DEFAULT_LIMIT
) -> RateLimitSettings:
    """Limit and decay whose worst case (burst plus refill) stays within ``requests_per_minute``."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError("the global rate limit needs a name, e.g. 'probable-futures-api'")
    if isinstance(requests_per_minute, bool) or not isinstance(requests_per_minute, int) or requests_per_minute < 2:
        raise ConfigurationError(f"requests_per_minute must be an integer >= 2, got {requests_per_minute!r}")
    limit = requests_per_minute // 2
    return RateLimitSettings(name.strip(), limit, limit / 60.0)


def ensure_rate_limit(
    name: str = DEFAULT_RATE_LIMIT_NAME, requests_per_minute: int = DEFAULT_LIMIT
) -> RateLimitSettings:
    """Create (or correct) the global concurrency limit on the current Prefect server.

    Idempotent: run it from a setup script, a deployment's setup step or a flow. The same
    can be done once by hand with ``RateLimitSettings.cli``.
    """
    from prefect.client.orchestration import get_client

    wanted = rate_limit_settings(name, requests_per_minute)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(
            wanted.name, wanted.limit, slot_decay_per_second=wanted.slot_decay_per_second
        )
    return wanted


def check_rate_limit(name: str) -> None:
    """Raise :class:`ConfigurationError` unless ``name`` is an active limit with slot decay.

    Run before the first request: without this check Prefect would log a warning on every
    request and let it through unpaced.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            found = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            found = None
    hint = rate_limit_settings(name).cli
    if found is None:
        raise ConfigurationError(
            f"the Prefect global concurrency limit {name!r} does not exist; create it with `{hint}` "
            "or pf_provider.prefect.ensure_rate_limit()"
        )
    if not found.active:
        raise ConfigurationError(f"the Prefect global concurrency limit {name!r} is inactive; activate it")
    if not found.slot_decay_per_second or not math.isfinite(found.slot_decay_per_second):
        raise ConfigurationError(
            f"the Prefect global concurrency limit {name!r} has no slot decay, so it cannot act as a rate "
            f"limit; set one, e.g. `prefect gcl update {name} --slot-decay-per-second "
            f"{rate_limit_settings(name).slot_decay_per_second:.6g}`"
        )


class GlobalRateLimiter(RateLimiter):
    """A client rate limiter that also takes a slot of a Prefect rate limit before each request.

    Only :meth:`acquire` is added to: the fleet-wide slot first, then the ordinary pacing of
    this process (which keeps following the server's ``RateLimit-*`` headers and
    ``Retry-After``). Use :func:`shared_global_rate_limiter` to get the one instance of a
    process for an API URL and limit name.

    Requests may be sent from threads that Prefect did not start (the bulk engine's pool),
    where Prefect's settings context is missing and the API URL would fall back to the
    environment. The settings in force where the limiter was built (a task run) are
    therefore captured and re-entered around each slot request.
    """

    def __init__(self, name: str, *, timeout_seconds: float | None = DEFAULT_SLOT_TIMEOUT, **pacing: Any):
        from prefect.context import SettingsContext

        super().__init__(**pacing)
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("the global rate limit needs a name, e.g. 'probable-futures-api'")
        self.name = name.strip()
        self.timeout_seconds = timeout_seconds
        self.global_acquisitions = 0
        self._settings_context = SettingsContext.get()

    def __repr__(self) -> str:
        return f"GlobalRateLimiter(name={self.name!r}, limit={self._limit}, window={self._window})"

    def _take_slot(self) -> None:
        from prefect.concurrency.sync import rate_limit

        rate_limit(self.name, occupy=1, timeout_seconds=self.timeout_seconds, strict=True)

    def acquire(self) -> float:
        if self._settings_context is None:
            self._take_slot()
        else:
            with self._settings_context.model_copy():
                self._take_slot()
        self.global_acquisitions += 1
        return super().acquire()


_shared: dict[tuple[str, str], GlobalRateLimiter] = {}
_shared_lock = threading.Lock()


def shared_global_rate_limiter(api_url: str, name: str) -> GlobalRateLimiter:
    """The process's limiter for one API URL and global limit name (the API limits per client IP)."""
    key = (api_url.rstrip("/").lower(), name.strip())
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = GlobalRateLimiter(name)
        return limiter
