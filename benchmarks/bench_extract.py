"""Bulk extraction against the emulator enforcing the production limit's shape.

Prints, in one run:
1. site-queries per rate-limit window: the seed-style loop (fetch a token, one request per
   site) against the engine, their ratio, the 429s that reached each caller, and the
   engine's token requests;
2. peak memory (max RSS of a child process) while extracting 1,000 / 5,000 / 10,000 sites;
3. the client's CPU cost per row (json.loads + typed parsing) against bare json.loads of
   the same response bytes.

Run: .venv/bin/python benchmarks/bench_extract.py [--window 3] [--sites 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from pf_provider import ProbableFuturesClient, RateLimiter
from pf_provider.client import statistics_results
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.extract import extract

DATASET = 40104
SCENARIO = "2.0"


def write_sites(path: Path, count: int) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["site_id", "latitude", "longitude"])
        for i in range(count):
            writer.writerow([f"s{i:06d}", round(-60 + (i * 7.31) % 130, 4), round(-179 + (i * 13.17) % 358, 4)])
    return path


def naive_loop(emu: Emulator, sites: int) -> tuple[int, int | None]:
    """The seed script: a token, then one POST per site, stopping at the first failure.

    Returns the site-queries completed and the number of the request that failed (a 429
    once the window's 100 requests are spent), all within one window.
    """
    session = requests.Session()
    token = session.get(f"{emu.url}/auth/token", auth=(emu.client_id, emu.client_secret), timeout=10).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    query = (
        "mutation ($input: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $input) "
        "{ datasetStatisticsResponses { datasetId warmingScenario lowValue midValue highValue latitude longitude } } }"
    )
    for i in range(sites):
        variables = {
            "input": {
                "latitude": (i * 7.31) % 130 - 60,
                "longitude": (i * 13.17) % 358 - 179,
                "datasetId": DATASET,
                "warmingScenario": [SCENARIO],
            }
        }
        answer = session.post(
            f"{emu.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=10
        )
        if answer.status_code != 200:
            return i, answer.status_code
    return sites, None


def engine_run(emu: Emulator, sites_csv: Path, out: Path, window: float) -> dict:
    client = ProbableFuturesClient(emu.client_id, emu.client_secret, emu.url, rate_limiter=RateLimiter())
    started = time.monotonic()
    summary = extract(
        client,
        sites_csv,
        out,
        datasets=[DATASET],
        scenarios=[SCENARIO],
        batch_size=50,
        concurrency=2,
        resume=False,
        progress_interval=3600,
    )
    elapsed = time.monotonic() - started
    client.close()
    return {"summary": summary, "elapsed": elapsed, "token_requests": client.token_requests}


def peak_memory(emu: Emulator, count: int, workdir: Path) -> float:
    """Max RSS (MB) of a child process extracting ``count`` sites with their 101 percentiles."""
    sites = write_sites(workdir / f"mem-{count}.csv", count)
    code = (
        "import resource, sys\n"
        "from pf_provider import ProbableFuturesClient\n"
        "from pf_provider.extract import extract\n"
        "c = ProbableFuturesClient(sys.argv[1], sys.argv[2], sys.argv[3], rate_limiter=None)\n"
        f"s = extract(c, sys.argv[4], sys.argv[5], datasets=[{DATASET}], include_values=True, resume=False,"
        " progress_interval=3600)\n"
        "assert s.fetched_sites == int(sys.argv[6]), s\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = workdir / f"mem-{count}.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", code, emu.client_id, emu.client_secret, emu.url, str(sites), str(out), str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def parse_cost(emu: Emulator) -> tuple[float, float, float, int]:
    """Seconds per row: bare json.loads; json.loads plus the client's typed parsing; and the
    same with every row's 101 percentiles read (they are converted to floats on first use)."""
    client = ProbableFuturesClient(emu.client_id, emu.client_secret, emu.url, rate_limiter=None)
    queries = [q for i in range(50) for q in client.statistics_queries((i % 80, i), dataset_id=DATASET)]
    operations = [q.operation() for q in queries]
    body = requests.post(
        f"{emu.url}/graphql",
        json=operations,
        timeout=30,
        headers={"Authorization": f"Bearer {client.get_access_token()}"},
    ).content
    rows = sum(len(r.rows) for r in statistics_results(queries, json.loads(body)))
    repeat = 40

    def best(fn) -> float:
        timings = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(repeat):
                fn()
            timings.append((time.process_time() - started) / repeat / rows)
        return min(timings)

    bare = best(lambda: json.loads(body))
    full = best(lambda: statistics_results(queries, json.loads(body)))

    def parse_and_read_values() -> None:
        for result in statistics_results(queries, json.loads(body)):
            for row in result.rows:
                row.values[0]

    with_values = best(parse_and_read_values)
    client.close()
    return bare, full, with_values, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=3.0, help="rate-limit window in seconds (production: 60)")
    parser.add_argument("--sites", type=int, default=10_000, help="sites for the engine run")
    args = parser.parse_args()
    window = args.window
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sites_csv = write_sites(workdir / "sites.csv", args.sites)

        print(f"== Throughput under 100 requests per {window:g} s window (production: per 60 s)")
        with Emulator(EmulatorConfig(rate_limit=100, rate_window=window)) as emu:
            naive_per_window, naive_failure = naive_loop(emu, args.sites)
        with Emulator(EmulatorConfig(rate_limit=100, rate_window=window)) as emu:
            run = engine_run(emu, sites_csv, workdir / "engine.jsonl", window)
            wire_429 = emu.stats.rate_limited
        summary = run["summary"]
        engine_per_window = summary.fetched_sites / (run["elapsed"] / window)
        ratio = engine_per_window / naive_per_window
        print(
            f"seed-style loop : {naive_per_window:8.0f} site-queries/window, then request {naive_per_window + 1} "
            f"answered HTTP {naive_failure} to the caller"
        )
        print(
            f"engine          : {engine_per_window:8.0f} site-queries/window ({summary.fetched_sites} sites in "
            f"{run['elapsed']:.1f} s, {summary.requests} requests), 0 429s reached the caller "
            f"({wire_429} seen on the wire), {run['token_requests']} token request(s)"
        )
        print(f"ratio           : {ratio:8.1f}x (target >= 25x)")
        ok &= ratio >= 25 and run["token_requests"] == 1

        print("\n== Peak memory (max RSS of the extracting process, 101 percentiles per row)")
        with Emulator(EmulatorConfig(rate_limit=None)) as emu:
            peaks = {n: peak_memory(emu, n, workdir) for n in (1_000, 5_000, args.sites)}
        for count, mb in peaks.items():
            print(f"{count:>6} sites: {mb:6.1f} MB")
        growth = peaks[args.sites] - peaks[1_000]
        print(f"growth from 1,000 to {args.sites:,} sites: {growth:+.1f} MB (target: under 200 MB, flat)")
        ok &= peaks[args.sites] < 200 and growth < 20

        print("\n== CPU per row: client parsing against bare json.loads of the same bytes")
        with Emulator(EmulatorConfig(rate_limit=None)) as emu:
            bare, full, with_values, rows = parse_cost(emu)
        print(f"json.loads            : {bare * 1e6:6.2f} us/row ({rows} rows with 101 percentiles per answer)")
        print(f"json.loads + parsing  : {full * 1e6:6.2f} us/row")
        print(f"ratio                 : {full / bare:6.2f}x (target <= 2x)")
        print(
            f"... and every row's 101 percentiles read as floats: {with_values * 1e6:6.2f} us/row "
            f"({with_values / bare:.2f}x; the conversion happens on first use)"
        )
        ok &= full / bare <= 2.0
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    sys.exit(main())
