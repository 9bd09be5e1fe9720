"""Counters and a bounded request log, so tests can assert on what the server saw.

Nothing here ever holds a credential: the log keeps whether an Authorization header was
present and its scheme ("Basic", "Bearer"), never its value.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it. ``status`` is None when the connection was dropped."""

    time: float
    method: str
    path: str
    status: int | None
    has_authorization: bool
    auth_scheme: str | None
    batch_size: int | None = None  # length of a JSON-array body; None for a single object
    operations: int = 0  # GraphQL operations executed for this request
    outcome: str = "served"  # served | rate_limited | injected | dropped | raw | truncated | hung


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of the counters since start (or the last ``reset_stats()``).

    ``graphql_requests`` counts HTTP requests to /graphql whatever happened to them;
    ``graphql_operations`` the operations executed inside them (a batch of 10 counts 10);
    ``rate_limited`` the 429 answers on /graphql (limiter, bursts and fail_next);
    ``injected_errors`` the answers replaced by fail_next, bursts or error_rate;
    ``raw_answers`` the enqueue_raw answers sent; ``dropped`` the connections closed unanswered.
    """

    total_requests: int = 0
    token_requests: int = 0
    tokens_issued: int = 0
    graphql_requests: int = 0
    graphql_operations: int = 0
    batched_requests: int = 0
    rate_limited: int = 0
    injected_errors: int = 0
    raw_answers: int = 0
    dropped: int = 0
    requests_with_authorization: int = 0
    requests_without_authorization: int = 0
    internal_errors: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)


class StatsCollector:
    """The mutable side of :class:`EmulatorStats`, guarded by one lock."""

    _COUNTERS = tuple(f for f in EmulatorStats.__dataclass_fields__ if f != "status_counts")

    def __init__(self, log_size: int) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=log_size)

    def add(self, **increments: int) -> None:
        with self._lock:
            self._counts.update(increments)

    def record(self, record: RequestRecord, **increments: int) -> None:
        with self._lock:
            self._counts.update(increments)
            self._counts["total_requests"] += 1
            self._counts[
                "requests_with_authorization" if record.has_authorization else "requests_without_authorization"
            ] += 1
            if record.status is not None:
                self._statuses[record.status] += 1
            self._log.append(record)

    def snapshot(self) -> EmulatorStats:
        with self._lock:
            values = {name: self._counts[name] for name in self._COUNTERS}
            return EmulatorStats(**values, status_counts=dict(sorted(self._statuses.items())))

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._statuses.clear()
            self._log.clear()
