"""Throughput of the local API emulator.

Starts an emulator (rate limit off), then fires a fixed number of requests from a few
threads, each with its own ``requests.Session`` (keep-alive), and prints requests/s:

* small: one point, one dataset, one scenario (the common request);
* batched: a JSON array of 50 operations (50 sites x 1 dataset x 6 scenarios, 101 values
  per row), printed as requests/s and rows/s.

By default the emulator runs in this process, so client and server share one GIL and the
figures are a floor. ``--subprocess`` runs it with ``python -m pf_provider.emulator``
instead, which is closer to how a real service behaves.

    python benchmarks/bench_emulator.py [--threads 4] [--requests 2000] [--batches 40] [--subprocess]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

FIELDS = "datasetId name unit warmingScenario lowValue midValue highValue latitude longitude mapCategory info values"
SMALL_QUERY = (
    "mutation Stats($lat: Float!, $lon: Float!, $scenario: [BigFloat], $dataset: Int) {"
    " getDatasetStatistics(input: {latitude: $lat, longitude: $lon, warmingScenario: $scenario,"
    f" datasetId: $dataset}}) {{ datasetStatisticsResponses {{ {FIELDS} }} }} }}"
)


@contextmanager
def running_emulator(in_subprocess: bool) -> Iterator[tuple[str, str, str]]:
    """(url, client_id, client_secret) of an emulator without rate limit."""
    if not in_subprocess:
        from pf_provider.emulator import Emulator, EmulatorConfig

        with Emulator(EmulatorConfig(rate_limit=None)) as emu:
            yield emu.url, emu.client_id, emu.client_secret
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "pf_provider.emulator", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(3))
        yield info["url"], info["client_id"], info["client_secret"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def fire(count: int, threads: int, make_body: Callable[[int], object], url: str, token: str) -> float:
    """Send ``count`` POSTs split over ``threads`` sessions; returns the elapsed seconds."""
    failures: list[str] = []
    per_thread = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
    start_line = threading.Barrier(threads + 1)

    def worker(n: int, offset: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            start_line.wait()
            for k in range(n):
                response = session.post(f"{url}/graphql", json=make_body(offset + k), timeout=30)
                if response.status_code != 200 or b'"errors"' in response.content:
                    failures.append(f"HTTP {response.status_code}")

    workers = [threading.Thread(target=worker, args=(n, sum(per_thread[:t]))) for t, n in enumerate(per_thread)]
    for w in workers:
        w.start()
    start_line.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed


def small_body(k: int) -> dict:
    # 200 distinct points, so both cached and freshly computed cells are exercised.
    return {
        "query": SMALL_QUERY,
        "variables": {"lat": -40.0 + (k % 200) * 0.4, "lon": 10.0, "scenario": "1.5", "dataset": 40101},
    }


def batch_body(k: int, sites: int = 50) -> list[dict]:
    return [
        {
            "query": SMALL_QUERY,
            "variables": {
                "lat": -60.0 + ((k * sites + s) % 600) * 0.2,
                "lon": -73.9,
                "scenario": None,
                "dataset": 40104,
            },
        }
        for s in range(sites)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000, help="small requests to send")
    parser.add_argument("--batches", type=int, default=40, help="batched requests (50 operations each) to send")
    parser.add_argument("--subprocess", action="store_true", help="run the emulator in its own process")
    args = parser.parse_args()

    with running_emulator(args.subprocess) as (url, client_id, client_secret):
        token = requests.get(f"{url}/auth/token", auth=(client_id, client_secret), timeout=10).json()["access_token"]
        fire(50, 1, small_body, url, token)  # warm up: connections, document cache
        where = "separate process" if args.subprocess else "same process as the clients"
        print(f"emulator at {url} ({where}), {args.threads} client threads")

        elapsed = fire(args.requests, args.threads, small_body, url, token)
        print(f"small requests:   {args.requests} in {elapsed:.2f} s = {args.requests / elapsed:,.0f} requests/s")

        elapsed = fire(args.batches, args.threads, batch_body, url, token)
        rows = args.batches * 50 * 6
        print(
            f"batched requests: {args.batches} x 50 operations in {elapsed:.2f} s = "
            f"{args.batches / elapsed:,.1f} requests/s, {rows / elapsed:,.0f} rows/s "
            f"({elapsed / args.batches * 1000:.0f} ms per batch of 300 rows)"
        )


if __name__ == "__main__":
    main()
