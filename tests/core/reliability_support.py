"""Helpers shared by the reliability suite (tests/core/test_reliability_*.py).

Canary needles and a scanner that reports where one leaked, a DEBUG log recorder for every
logger, the texts an exception can show (message, repr, formatted traceback, its chain),
site files, and the real emulator answers to a batch (to corrupt one element of).
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pf_provider import ProbableFuturesClient, RetryPolicy
from pf_provider.extract import _plan, read_sites

FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02)
SHORT_TIMEOUT = (1.0, 1.0)
"""(connect, read) seconds: a hanging answer costs one second per attempt, not a minute."""

NOISY_LOGGERS = ("", "pf_provider", "urllib3", "urllib3.connectionpool", "requests", "charset_normalizer")


def needles_for(secret: str, client_id: str, tokens: Iterable[str]) -> dict[str, str]:
    """Every form in which a credential could leak, named: whole values and telling fragments.

    A message that printed only the first 80 characters of a token would not contain the whole
    token, so the signature of each JWT (and its first 20 characters) is looked for on its own.
    """
    needles = {
        "client secret": secret,
        "client secret (its random part)": max(secret.split("-"), key=len),
        "Basic credential": base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii"),
    }
    for index, token in enumerate(tokens):
        needles[f"token {index}"] = token
        signature = token.rsplit(".", 1)[-1]
        if len(signature) >= 20:
            needles[f"token {index} signature"] = signature
            needles[f"token {index} signature start"] = signature[:20]
    return needles


def find_leaks(texts: Iterable[tuple[str, str]], needles: dict[str, str]) -> list[str]:
    """``"<needle name> in <where>"`` for each needle found in each ``(where, text)``."""
    found = []
    for where, text in texts:
        for name, needle in needles.items():
            if needle and needle in text:
                found.append(f"{name} in {where}")
    return found


def file_texts(*roots: Path) -> list[tuple[str, str]]:
    """Every file under ``roots`` as text (bytes decoded leniently), named by its path."""
    texts = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                texts.append((str(path), path.read_bytes().decode("utf-8", errors="replace")))
    return texts


def exception_texts(exc: BaseException) -> list[tuple[str, str]]:
    """What an exception can show: str, repr, the formatted traceback, and the same for each
    exception chained to it, suppressed contexts included (error trackers may walk those)."""
    texts = [
        (f"{type(exc).__name__} traceback", "".join(traceback.format_exception(exc))),
    ]
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        name = type(current).__name__
        texts += [(f"str({name})", str(current)), (f"repr({name})", repr(current))]
        texts += [(f"{name}.args", repr(current.args))]
        todo += [current.__cause__, current.__context__]
    return texts


class RecordingHandler(logging.Handler):
    """Keeps every record, formatted with its exception traceback if it has one."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name)


@contextmanager
def debug_logging() -> Iterator[RecordingHandler]:
    """Every logger at DEBUG (urllib3 and requests included), recorded; restored afterwards."""
    handler = RecordingHandler()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    root.addHandler(handler)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def site_rows(count: int, prefix: str = "s") -> list[dict[str, Any]]:
    """``count`` sites on a spread of valid points."""
    return [
        {
            "site_id": f"{prefix}{i:05d}",
            "latitude": round(-60 + (i * 7.3) % 130, 3),
            "longitude": round(-179 + (i * 13.1) % 358, 3),
        }
        for i in range(count)
    ]


def write_sites(path: Path, count: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["site_id", "latitude", "longitude"])
        writer.writeheader()
        writer.writerows(site_rows(count))
    return path


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def row_key(row: dict[str, Any]) -> tuple[str, int, str]:
    return (row["site_id"], row["dataset_id"], row["warming_scenario"])


def sorted_rows(path: Path) -> list[dict[str, Any]]:
    return sorted(jsonl(path), key=row_key)


def real_batch_answer(
    client: ProbableFuturesClient,
    sites: Sequence[dict[str, Any]],
    *,
    datasets: Any,
    scenarios: Any,
    include_values: bool = False,
) -> list[dict[str, Any]]:
    """The emulator's own answer to the one batch ``extract`` sends for ``sites``: a list of
    ``{"data": ...}`` in operation order, ready to be corrupted and replayed with enqueue_raw."""
    plan = _plan(client, datasets, scenarios, include_values, 500)
    operations = [query.operation() for site in read_sites(list(sites)) for query in plan.queries(site)]
    return [{"data": data} for data in client.execute_batch(operations)]
