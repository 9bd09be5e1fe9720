"""Fault injection: scripted one-shot answers and seeded random failures.

Random decisions are a pure function of (seed, purpose, request number): the same seed and
the same sequence of requests give the same faults, whatever other knobs are set.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pf_provider.emulator.config import EmulatorConfig


@dataclass(frozen=True)
class RawAnswer:
    """A scripted answer, sent as is: any status, headers and bytes.

    ``truncate`` declares a Content-Length larger than the body, sends the body, then closes
    the connection. ``hang`` waits that many seconds before answering (cut short by stop()).
    ``drop`` closes the connection without any answer.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False
    hang: float | None = None
    drop: bool = False


@dataclass(frozen=True)
class Fault:
    """What to do with one /graphql request instead of serving it."""

    kind: str  # "drop", "status" (fail_next), "burst" or "random" (error_rate)
    status: int = 0


def body_bytes(body: Any) -> bytes:
    """Bytes as given, text as UTF-8, anything else as JSON."""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def uniform(seed: int, purpose: str, index: int) -> float:
    """A number in [0, 1) fixed by its three inputs."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class FaultPlan:
    """Queues of scripted answers and failures, and the seeded random ones. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: dict[str, deque[RawAnswer]] = {}
        self._fail: dict[str, deque[int]] = {}

    def enqueue_raw(self, path: str, answer: RawAnswer) -> None:
        with self._lock:
            self._raw.setdefault(path, deque()).append(answer)

    def take_raw(self, path: str) -> RawAnswer | None:
        with self._lock:
            queue = self._raw.get(path)
            return queue.popleft() if queue else None

    def fail_next(self, path: str, count: int, status: int) -> None:
        with self._lock:
            self._fail.setdefault(path, deque()).extend([status] * count)

    def take_failure(self, path: str) -> int | None:
        with self._lock:
            queue = self._fail.get(path)
            return queue.popleft() if queue else None

    def pending(self) -> int:
        """Scripted answers and failures not yet consumed."""
        with self._lock:
            return sum(map(len, self._raw.values())) + sum(map(len, self._fail.values()))

    def clear(self) -> None:
        with self._lock:
            self._raw.clear()
            self._fail.clear()

    def decide(self, path: str, config: EmulatorConfig, index: int) -> Fault | None:
        """The fault for request number ``index`` to ``path``, if any (drop, fail_next, burst, error_rate)."""
        if path == "/graphql" and config.drop_rate and uniform(config.seed, "drop", index) < config.drop_rate:
            return Fault("drop")
        status = self.take_failure(path)
        if status is not None:
            return Fault("status", status)
        if path != "/graphql":
            return None
        every, length = config.burst_429_every, config.burst_429_length
        if every and length and index % every >= every - length:
            return Fault("burst", 429)
        if config.error_rate and uniform(config.seed, "error", index) < config.error_rate:
            statuses = config.error_statuses
            pick = int(uniform(config.seed, "status", index) * len(statuses))
            return Fault("random", statuses[pick])
        return None

    @staticmethod
    def delay(config: EmulatorConfig, index: int, path: str) -> float:
        """Seconds to wait before answering request number ``index`` to ``path``."""
        if not config.latency_jitter:
            return config.latency
        return config.latency + config.latency_jitter * uniform(config.seed, f"latency{path}", index)
