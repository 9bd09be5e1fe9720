"""The emulator's settings: who may log in, how strict the limiter is, which faults to inject.

Kept free of heavy imports: the CLI and the pytest plugin read it before any server exists.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
DATA_PERMISSION = "statistics:read"

# Knobs fixed once the socket is bound; everything else may change at run time.
STARTUP_ONLY = frozenset({"host", "port", "tls", "request_log_size"})


def check_loopback(host: str) -> str:
    """The IPv4 address to bind for ``host``; refuses anything that is not loopback.

    The emulator hands out tokens for demo credentials and answers without TLS by default:
    it must never be reachable from another machine.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"emulator host must be a loopback IP address such as 127.0.0.1, not {host!r}") from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(
            f"emulator host must be an IPv4 loopback address (127.0.0.0/8 or 'localhost'), not {host!r}: "
            "it serves demo credentials and must not be reachable from other machines"
        )
    return host


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. All randomness derives from ``seed``.

    Credentials: ``client_id``/``client_secret`` is the demo client; ``clients`` adds more
    ``{id: secret}`` pairs. Every client's token carries ``statistics:read`` unless
    ``client_permissions`` says otherwise (``{"no-scope-id": ()}`` gives a token that /graphql
    answers with 403 "Insufficient scope").

    Rate limit: ``rate_limit`` requests to /graphql per ``rate_window`` seconds and client IP
    (``None`` disables it). As in production, where the JWT check runs before the limiter,
    requests refused with 401/403 are not counted unless ``count_rejected`` is true.

    Faults (``/graphql`` only unless noted): ``error_rate`` of requests get a status from
    ``error_statuses``; ``drop_rate`` of connections are closed without an answer; every
    answer on any path waits ``latency`` plus up to ``latency_jitter`` seconds; of every
    ``burst_429_every`` consecutive requests the last ``burst_429_length`` get HTTP 429.
    ``retry_after`` fixes the Retry-After of 429 answers (default: seconds until the window
    resets). ``max_batch_size`` caps JSON-array batches (HTTP 400 past it) and
    ``max_body_bytes`` caps request bodies (HTTP 413; production's express.json limit is 100 kB).
    """

    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    clients: Mapping[str, str] = field(default_factory=dict)
    client_permissions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    rate_limit: int | None = 100
    rate_window: float = 60.0
    count_rejected: bool = False
    token_lifetime: float = 86400.0
    wrong_credentials: str = "201"
    mask_errors: bool = True
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 504)
    drop_rate: float = 0.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    burst_429_every: int = 0
    burst_429_length: int = 0
    retry_after: float | None = None
    max_batch_size: int | None = None
    max_body_bytes: int | None = 102_400
    seed: int = 0
    tls: bool = False
    request_log_size: int = 1000

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise in place once, at construction
        if not self.client_id or not self.client_secret:
            raise ValueError("client_id and client_secret must be non-empty")
        set_(self, "host", check_loopback(self.host))
        if not 0 <= int(self.port) <= 65535:
            raise ValueError(f"port must be within 0..65535, not {self.port!r}")
        set_(self, "clients", dict(self.clients))
        set_(self, "client_permissions", {k: tuple(v) for k, v in self.client_permissions.items()})
        if str(self.wrong_credentials) not in ("201", "500"):
            raise ValueError(f"wrong_credentials must be '201' or '500', not {self.wrong_credentials!r}")
        set_(self, "wrong_credentials", str(self.wrong_credentials))
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1, or None to disable the limiter")
        _positive("rate_window", self.rate_window)
        if not math.isfinite(self.token_lifetime):
            raise ValueError("token_lifetime must be a finite number of seconds")
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], not {value!r}")
        statuses = tuple(int(s) for s in self.error_statuses)
        if not statuses or any(not 100 <= s <= 599 for s in statuses):
            raise ValueError(f"error_statuses must be non-empty HTTP statuses, not {self.error_statuses!r}")
        set_(self, "error_statuses", statuses)
        for name in ("latency", "latency_jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.burst_429_every < 0 or not 0 <= self.burst_429_length <= max(self.burst_429_every, 0):
            raise ValueError("burst_429_length must be within 0..burst_429_every")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")
        if self.max_batch_size is not None and self.max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1, or None")
        if self.max_body_bytes is not None and self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be at least 1, or None")
        if self.request_log_size < 0:
            raise ValueError("request_log_size must not be negative")

    def all_clients(self) -> dict[str, str]:
        """Every accepted ``{client_id: secret}``, the demo client included."""
        return {**self.clients, self.client_id: self.client_secret}

    def permissions_of(self, client_id: str) -> tuple[str, ...]:
        return tuple(self.client_permissions.get(client_id, (DATA_PERMISSION,)))

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied and validated; unknown names raise ``TypeError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown emulator setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, not {value!r}")
