"""Client-side pacing under the API's fixed-window limit (100 requests a minute per IP).

The limiter starts from the documented limit and then follows the server's
``RateLimit-Limit`` / ``RateLimit-Remaining`` / ``RateLimit-Reset`` headers, so requests
wait for the next window instead of drawing a 429. Because the limit is per client IP,
clients in one process that talk to the same API share one limiter by default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_LIMIT = 100
DEFAULT_WINDOW = 60.0


@dataclass(frozen=True)
class RateLimitStatus:
    """What the limiter currently believes about the server's window."""

    limit: int
    remaining: int
    reset_in: float


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


class RateLimiter:
    """A thread-safe request pacer for a fixed-window limit."""

    def __init__(
        self,
        limit: int | None = None,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """``limit=None`` starts from the documented 100 and follows the server's limit up or
        down; an explicit ``limit`` is this pacer's share and stays a ceiling (for example
        100 / N when N processes share one client IP)."""
        if (limit is not None and limit < 1) or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self._ceiling = int(limit) if limit is not None else None
        self._limit = self._ceiling or DEFAULT_LIMIT
        self._window = float(window)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._remaining = self._limit
        self._reset_at = 0.0
        self._blocked_until = 0.0
        self._in_flight = 0
        self.waits = 0
        self.waited_seconds = 0.0

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self._limit}, window={self._window})"

    def status(self) -> RateLimitStatus:
        with self._lock:
            now = self._clock()
            if now >= self._reset_at:
                return RateLimitStatus(self._limit, self._limit, 0.0)
            return RateLimitStatus(self._limit, self._remaining, self._reset_at - now)

    def acquire(self) -> float:
        """Wait until a request may be sent and count it; returns the seconds waited."""
        waited = 0.0
        self._lock.acquire()
        try:
            while True:
                now = self._clock()
                if now < self._blocked_until:
                    delay = self._blocked_until - now
                else:
                    if now >= self._reset_at:
                        self._remaining = self._limit
                        self._reset_at = now + self._window
                    if self._remaining > 0:
                        self._remaining -= 1
                        self._in_flight += 1
                        if waited:
                            self.waits += 1
                            self.waited_seconds += waited
                        return waited
                    delay = self._reset_at - now
                self._lock.release()
                try:
                    self._sleep(delay)
                finally:
                    self._lock.acquire()
                waited += delay
        finally:
            self._lock.release()

    def release(self) -> None:
        """A request ended without an answer (connection failure): it is no longer in flight."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Follow the server's view of the window from a response's headers.

        The server's ``Remaining`` does not yet count the other requests in flight, so
        they are subtracted from it.
        """
        limit = _header_number(headers, "RateLimit-Limit")
        remaining = _header_number(headers, "RateLimit-Remaining")
        reset = _header_number(headers, "RateLimit-Reset")
        if reset is not None:
            reset = min(reset, self._window)  # a fixed window resets within one window; more would stall every request
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            now = self._clock()
            if limit is not None and limit >= 1:
                self._limit = int(limit) if self._ceiling is None else min(self._ceiling, int(limit))
            if remaining is not None:
                server_remaining = max(0, int(remaining) - self._in_flight)
            if reset is None:
                if remaining is not None:
                    self._remaining = min(self._remaining, server_remaining)
                return
            server_reset_at = now + reset
            if remaining is not None:
                if server_reset_at > self._reset_at + 1.0:
                    # The server opened a window this limiter did not know of.
                    self._remaining = min(server_remaining, max(self._limit - 1 - self._in_flight, 0))
                else:
                    self._remaining = min(self._remaining, server_remaining)
            self._reset_at = server_reset_at

    def block_for(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (after a 429's ``Retry-After``)."""
        with self._lock:
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + seconds)
            self._remaining = 0
            self._reset_at = self._blocked_until  # the server said when to try again


_shared: dict[tuple[str, int | None], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_rate_limiter(api_url: str, limit: int | None = None) -> RateLimiter:
    """The process-wide limiter of one API base URL (the limit is per client IP).

    ``limit`` gives a share of the server's limit (see :class:`RateLimiter`); every caller
    asking for the same URL and share gets the same limiter.
    """
    key = (api_url.rstrip("/").lower(), limit)
    with _shared_lock:
        limiter = _shared.get(key)
        if limiter is None:
            limiter = _shared[key] = RateLimiter(limit)
        return limiter
