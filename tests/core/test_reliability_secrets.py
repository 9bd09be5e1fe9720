"""A canary secret and every token the emulators issued, looked for everywhere they could leak
from the core, the engine and the command line: logging at DEBUG for every logger (urllib3 and
requests included), exception messages, reprs, formatted tracebacks and chained exceptions,
pickles, the files ``extract`` writes, and the CLI's stdout/stderr.

(Airflow task logs, XComs and rendered fields, and Prefect logs and results, are checked by
tests/airflow and tests/prefect.)
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from reliability_support import (
    FAST_RETRY,
    SHORT_TIMEOUT,
    debug_logging,
    exception_texts,
    file_texts,
    find_leaks,
    needles_for,
    site_rows,
)

from pf_provider import (
    BatchError,
    GraphQLError,
    ProbableFuturesClient,
    ProbableFuturesError,
    RateLimiter,
    RetryPolicy,
)
from pf_provider.auth import AccessToken, Secret
from pf_provider.emulator import Emulator, EmulatorConfig
from pf_provider.errors import GraphQLErrorDetail
from pf_provider.extract import Rejection, Site, extract
from pf_provider.validation import Location

pytestmark = pytest.mark.timeout(180)

CLIENT_ID = "canary-client"
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None  # the pandas extra; absent on the lowest run
OUTPUT_NAMES = ("o.jsonl", "o.csv", *(("o.parquet",) if HAS_PYARROW else ()))
NO_SCOPE_ID = "canary-no-scope"
POINT = {"latitude": 12.0, "longitude": 34.0, "dataset_id": 40101, "warming_scenario": "1.5"}


@pytest.fixture
def emulators(canary_secret: str) -> Iterator[dict[str, Emulator]]:
    """The API (the canary client plus one without scope), a TLS twin, and another host."""
    api = Emulator(
        EmulatorConfig(
            client_id=CLIENT_ID,
            client_secret=canary_secret,
            clients={NO_SCOPE_ID: canary_secret},
            client_permissions={NO_SCOPE_ID: ()},
            rate_limit=None,
        )
    )
    tls = Emulator(EmulatorConfig(client_id=CLIENT_ID, client_secret=canary_secret, tls=True))
    elsewhere = Emulator(EmulatorConfig(rate_limit=None))
    with api, tls, elsewhere:
        yield {"api": api, "tls": tls, "elsewhere": elsewhere}


def all_needles(canary_secret: str, emulators: dict[str, Emulator]) -> dict[str, str]:
    tokens = [t for emu in emulators.values() for t in emu.issued_tokens]
    needles = needles_for(canary_secret, CLIENT_ID, tokens)
    wrong = needles_for(canary_secret + "-wrong", CLIENT_ID, [])
    needles.update({f"wrong {k}": v for k, v in wrong.items()})
    needles["Basic credential (no-scope client)"] = needles_for(canary_secret, NO_SCOPE_ID, [])["Basic credential"]
    return needles


class Collector:
    """Runs calls, keeps every exception they raise (by name) and asserts they were expected."""

    def __init__(self) -> None:
        self.errors: dict[str, BaseException] = {}

    def expect(self, name: str, call: Callable[[], Any], error: type[BaseException] = ProbableFuturesError) -> None:
        with pytest.raises(error) as caught:
            call()
        self.errors[name] = caught.value


def test_canary_reaches_no_log_exception_traceback_repr_or_pickle(emulators, make_client, canary_secret, tmp_path):
    api, tls, elsewhere = emulators["api"], emulators["tls"], emulators["elsewhere"]
    seen = Collector()
    objects: list[Any] = []
    with debug_logging() as logs:
        client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, rate_limiter=RateLimiter())
        rows = client.get_dataset_statistics(**POINT)
        objects += [client, client._tokens, client._tokens.current, client._secret, client._transport, *rows]

        # Tokens replaced: expired server-side, then revoked (both answered 401 and refreshed).
        api.expire_tokens()
        client.get_dataset_statistics(**POINT)
        api.revoke_token(client.get_access_token())
        client.get_dataset_statistics(**POINT)
        # A 401 and a 403 whose bodies echo the token: redacted before any message or log.
        token = client.get_access_token()
        api.enqueue_raw("/graphql", 401, {"errors": [{"message": f"jwt malformed: Bearer {token}"}]})
        client.get_dataset_statistics(**POINT)
        api.enqueue_raw("/graphql", 403, {"errors": [{"message": f"Insufficient scope for {token}"}]})
        seen.expect("403 echoing the token", lambda: client.get_dataset_statistics(**POINT))
        # Transient failures, retried and logged.
        api.configure(retry_after=0)
        api.fail_next(1, status=503)
        api.fail_next(1, status=429)
        client.get_dataset_statistics(**POINT)
        for scripted in ({"body": b'[{"data"', "truncate": True}, {"drop": True}, {"hang": 3.0}):
            api.enqueue_raw("/graphql", **scripted)
            client.get_dataset_statistics(**POINT)
        for _ in range(3):
            api.enqueue_raw("/graphql", hang=3.0)
        seen.expect("hanging server", lambda: client.get_dataset_statistics(**POINT))
        # GraphQL errors, one and in a batch.
        seen.expect("bad document", lambda: client.execute("mutation { nope }"))
        seen.expect(
            "GraphQL error",
            lambda: client.execute(
                "mutation($i: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $i) { clientMutationId } }",
                {"i": {"latitude": 1.0, "longitude": 500.0}},
                validate=False,
            ),
        )
        document = "mutation($i: GetDatasetStatisticsInput!) { getDatasetStatistics(input: $i) { clientMutationId } }"
        seen.expect(
            "batch error",
            lambda: client.execute_batch([(document, {"i": {"latitude": 1.0, "longitude": x}}) for x in (1.0, 500.0)]),
            BatchError,
        )
        seen.expect("bad input", lambda: client.get_dataset_statistics(latitude=1, longitude=999))
        # Hostile token answers.
        fresh = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
        api.enqueue_raw("/auth/token", 201, {"access_token": f"{canary_secret}\r\nX-Echo: 1", "expires_at": None})
        seen.expect("token with a line break", fresh.get_access_token)
        # Wrong credentials, in both of the service's styles; a client without the scope.
        for mode in ("201", "500"):
            api.configure(wrong_credentials=mode)
            wrong = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, client_secret=canary_secret + "-wrong")
            seen.expect(f"wrong secret ({mode})", wrong.get_access_token)
            objects.append(wrong)
        no_scope = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, client_id=NO_SCOPE_ID)
        seen.expect("no scope", lambda: no_scope.get_dataset_statistics(**POINT))
        # TLS that does not verify, redirects elsewhere, nobody listening.
        seen.expect("TLS", make_client(tls, retry=FAST_RETRY, timeout=SHORT_TIMEOUT).get_access_token)
        api.enqueue_raw("/auth/token", 307, b"", {"Location": f"{elsewhere.url}/auth/token"})
        seen.expect("redirected token request", fresh.get_access_token)
        api.enqueue_raw("/graphql", 302, b"", {"Location": f"{elsewhere.url}/graphql"})
        seen.expect("redirected query", lambda: client.get_dataset_statistics(**POINT))
        gone = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT, api_url="http://127.0.0.1:9")  # discard port
        seen.expect("connection refused", gone.get_access_token)
        # Pickling a client refuses, whatever the pickler.
        seen.expect("pickle client", lambda: pickle.dumps(client), TypeError)
        seen.expect("pickle secret", lambda: pickle.dumps(client._secret), TypeError)
        seen.expect("pickle token", lambda: pickle.dumps(client._tokens.current), TypeError)
        seen.expect("deepcopy client", lambda: copy.deepcopy(client), TypeError)
        cloudpickle = pytest.importorskip("cloudpickle")
        seen.expect("cloudpickle client", lambda: cloudpickle.dumps(client), TypeError)
        # The bulk engine, with rejects.
        sites = [*site_rows(4), {"site_id": "atlantis", "city": "Atlantis", "country": "Nowhere"}]
        summary = extract(client, sites, tmp_path / "o.jsonl", datasets=[40101], scenarios=["1.5"])
        objects += [summary, Site.from_mapping(sites[0]), Rejection("x", "reason", {"latitude": 1})]
        objects += [Location(latitude=1, longitude=2), client.statistics_queries((1, 2))[0], RetryPolicy()]

    assert elsewhere.stats.total_requests == 0, "no redirect was followed"
    assert len(api.issued_tokens) >= 3 and summary.rejected_sites == 1
    assert {"urllib3.connectionpool", "pf_provider.auth", "pf_provider.http", "pf_provider.client"} <= logs.names
    assert any("refused the access token (jwt malformed: Bearer ***)" in line for line in logs.lines)
    assert "***" in str(seen.errors["403 echoing the token"])

    texts: list[tuple[str, str]] = [(f"log line {i}", line) for i, line in enumerate(logs.lines)]
    for name, error in seen.errors.items():
        texts += [(f"{name}: {where}", text) for where, text in exception_texts(error)]
        if isinstance(error, ProbableFuturesError):
            texts.append((f"{name}: pickle", pickle.dumps(error).decode("latin-1")))
    for obj in objects:
        texts += [(f"repr({type(obj).__name__})", repr(obj)), (f"str({type(obj).__name__})", str(obj))]
        state = getattr(obj, "__dict__", None)
        if state is not None and not isinstance(obj, AccessToken):  # the token's own fields hold it, by design
            texts.append((f"vars({type(obj).__name__})", repr(state)))
    texts += file_texts(tmp_path)
    needles = all_needles(canary_secret, emulators)
    assert find_leaks(texts, needles) == []
    # The scan is not vacuous: the needles are where they must be, and looked for in the right form.
    assert find_leaks([("the token itself", client.get_access_token())], needles)
    assert len(texts) > 200


def test_errors_pickle_across_processes_with_their_details_and_no_secret(canary_secret):
    detail = GraphQLErrorDetail("Invalid latitude param.", path=("getDatasetStatistics",), code="22023")
    errors = [
        GraphQLError([detail], data={"x": None}, index=3),
        BatchError([{"a": 1}, None], {1: GraphQLError([detail], index=1)}),
    ]
    for error in errors:
        error.partial_results = [{"ok": True}]
        data = pickle.dumps(error)
        again = pickle.loads(data)
        assert type(again) is type(error) and str(again) == str(error)
        assert again.errors == error.errors and again.partial_results == [{"ok": True}]
        assert canary_secret.encode() not in data
    assert pickle.loads(pickle.dumps(errors[1])).failures[1].index == 1


def test_secret_and_token_objects_never_show_their_value(canary_secret):
    secret = Secret(canary_secret)
    token = AccessToken(value=canary_secret, expires_at=datetime.now(timezone.utc), refresh_at=0.0)
    for text in (repr(secret), str(secret), f"{secret}", repr(token), str(token), repr([secret, token])):
        assert canary_secret not in text
    client = ProbableFuturesClient(CLIENT_ID, canary_secret, "http://127.0.0.1:9")
    for text in (repr(client), str(client), repr(vars(client)), repr(vars(client._tokens))):
        assert canary_secret not in text
    with pytest.raises(TypeError, match="cannot be pickled; pass the Airflow connection id or the Prefect block"):
        pickle.dumps(client)


def test_extract_files_hold_no_secret_across_formats_and_resume(emulators, make_client, canary_secret, tmp_path):
    api = emulators["api"]
    client = make_client(api, retry=FAST_RETRY, timeout=SHORT_TIMEOUT)
    sites = [*site_rows(30), {"site_id": "bad", "latitude": 95, "longitude": 0}]
    for name in OUTPUT_NAMES:
        extract(client, sites, tmp_path / name, datasets=[40101, 40901], scenarios=["1.5"], include_values=True)
    # Interrupted by a bad answer, then resumed.
    api.enqueue_raw("/graphql", 200, [])
    with pytest.raises(ProbableFuturesError):
        extract(client, sites, tmp_path / "r.jsonl", batch_size=10, concurrency=1, datasets=[40101])
    extract(client, sites, tmp_path / "r.jsonl", batch_size=10, concurrency=1, datasets=[40101])
    written = file_texts(tmp_path)
    names = {Path(where).name for where, _ in written}
    assert {"o.jsonl.checkpoint", "o.jsonl.rejects.jsonl", *OUTPUT_NAMES, "r.jsonl.checkpoint"} <= names
    assert find_leaks(written, all_needles(canary_secret, emulators)) == []


# -- the command line ------------------------------------------------------------------------------


def cli(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pf_provider.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_command_line_output_and_files_hold_no_secret_or_token(emulators, canary_secret, tmp_path):
    api = emulators["api"]
    api.configure(token_lifetime=1.0, latency=0.03)  # the extraction outlives its first token
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    with (work / "sites.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["site_id", "latitude", "longitude", "city", "country"])
        writer.writeheader()
        writer.writerows(site_rows(60))
        writer.writerow({"site_id": "atlantis", "city": "Atlantis", "country": "Nowhere"})
        writer.writerow({"site_id": "north", "latitude": "95", "longitude": "0"})
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "PF_CLIENT_ID": CLIENT_ID,
        "PF_CLIENT_SECRET": canary_secret,
        "PF_API_URL": api.url,
    }
    extract_args = ["--sites", "sites.csv", "--datasets", "40101", "--scenarios", "1.5", "--batch-size", "5"]
    runs = {
        "token": cli(["-v", "token"], env=env, cwd=work),
        "extract": cli(
            ["-v", "extract", *extract_args, "--out", "out.jsonl", "--progress-interval", "0"], env=env, cwd=work
        ),
    }
    if HAS_PYARROW:
        runs["extract parquet"] = cli(["-v", "extract", *extract_args, "--out", "out.parquet"], env=env, cwd=work)
    api.fail_next(2, status=503)
    runs["extract with retries"] = cli(["-v", "extract", *extract_args, "--out", "retried.csv"], env=env, cwd=work)
    wrong = {**env, "PF_CLIENT_SECRET": canary_secret + "-wrong"}
    for mode in ("201", "500"):
        api.configure(wrong_credentials=mode)
        runs[f"wrong secret ({mode})"] = cli(["-v", "token"], env=wrong, cwd=work)
        runs[f"wrong secret extract ({mode})"] = cli(
            ["-v", "extract", *extract_args, "--out", "w.jsonl"], env=wrong, cwd=work
        )

    codes = {name: run.returncode for name, run in runs.items()}
    assert codes == {
        "token": 0,
        "extract": 0,
        **({"extract parquet": 0} if HAS_PYARROW else {}),
        "extract with retries": 0,
        "wrong secret (201)": 3,
        "wrong secret extract (201)": 3,
        "wrong secret (500)": 3,
        "wrong secret extract (500)": 3,
    }, {name: run.stderr[-2000:] for name, run in runs.items()}
    assert f"client ID {CLIENT_ID!r}" in runs["token"].stdout
    assert "Wrote 60 rows for 60 sites" in runs["extract"].stdout and "2 rejected" in runs["extract"].stdout
    assert "did not issue a token for client ID 'canary-client'" in runs["wrong secret (500)"].stderr
    assert "urllib3.connectionpool" in runs["extract"].stderr, "DEBUG logging reached the CLI's stderr"
    assert "answered HTTP 503; retrying" in runs["extract with retries"].stderr
    assert api.stats.tokens_issued >= 2, "tokens were replaced during the runs"

    texts = [
        (f"{name} {stream}", getattr(run, stream)) for name, run in runs.items() for stream in ("stdout", "stderr")
    ]
    texts += file_texts(home, work)
    assert find_leaks(texts, all_needles(canary_secret, emulators)) == []


def test_command_line_reports_file_system_errors_without_a_traceback(emulators, canary_secret, tmp_path):
    (tmp_path / "sites.csv").write_text("site_id,latitude,longitude\na,1,2\n")
    (tmp_path / "a-file").write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PF_CLIENT_ID": CLIENT_ID,
        "PF_CLIENT_SECRET": canary_secret,
        "PF_API_URL": emulators["api"].url,
    }
    done = cli(["extract", "--sites", "sites.csv", "--out", "a-file/out.jsonl"], env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "pf-provider: " in done.stderr and "a-file" in done.stderr
    assert canary_secret not in done.stderr + done.stdout
    assert emulators["api"].stats.total_requests == 0
