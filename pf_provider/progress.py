"""Progress of a long extraction: log lines at a steady interval, a bar on a terminal.

Orchestrators show log lines in their task logs; a person at a terminal gets a bar on
stderr that redraws in place.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """Counts finished sites and reports done/total, rate and ETA."""

    def __init__(
        self,
        total: int | None,
        *,
        logger: logging.Logger,
        interval: float = 10.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total
        self.done = 0
        self.skipped = 0
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_log = self._started
        stream = stream if stream is not None else sys.stderr
        self._bar = stream if getattr(stream, "isatty", lambda: False)() else None

    def skip(self, count: int = 1) -> None:
        """Sites already done by an earlier run: they count toward done, not toward the rate."""
        self.skipped += count

    def advance(self, count: int) -> None:
        self.done += count
        now = self._clock()
        if self._bar is not None:
            self._bar.write("\r" + self.line(now) + "   ")
            self._bar.flush()
        if now - self._last_log >= self._interval:
            self._last_log = now
            self._logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        finished = self.done + self.skipped
        if self.total:
            percent = 100.0 * finished / self.total
            remaining = max(self.total - finished, 0)
            eta = _duration(remaining / rate) if rate > 0 else "unknown"
            return f"{finished}/{self.total} sites ({percent:.1f}%), {rate:.1f} sites/s, ETA {eta}"
        return f"{finished} sites, {rate:.1f} sites/s"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.write("\r" + self.line() + "\n")
            self._bar.flush()
        self._logger.info("Finished: %s in %s", self.line(), _duration(self._clock() - self._started))
