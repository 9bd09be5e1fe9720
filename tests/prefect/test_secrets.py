"""A canary secret and the issued token appear in no log, result, run record or file."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import prefect.settings
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.settings import temporary_settings

from pf_provider.prefect import ProbableFuturesCredentials, execute_graphql, extract_statistics


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_no_secret_or_token_in_logs_results_or_records(
    prefect_server, credentials, emulator, canary_secret, read_all_logs, tmp_path
):
    import minimal_flow
    import portfolio_flow

    results = tmp_path / "results"
    output = tmp_path / "output"
    wrong_secret = f"wrong-{canary_secret}"

    @task(persist_result=True)
    def token_length(block: ProbableFuturesCredentials) -> int:
        # Uses the token the way a custom task might, returning only something harmless.
        return len(block.get_access_token())

    @flow(persist_result=True)
    def mixed(block_name: str) -> dict[str, Any]:
        block = ProbableFuturesCredentials.load(block_name)
        data = execute_graphql(
            block,
            "mutation { getDatasetStatistics(input: {latitude: 6.5, longitude: 3.4, datasetId: 40901}) "
            "{ datasetStatisticsResponses { datasetId info } } }",
        )
        summary = extract_statistics(
            block, [{"site_id": "x", "latitude": 1, "longitude": 2}], str(output / "x.jsonl"), datasets=[40104]
        )
        return {"data": data, "summary": summary, "length": token_length(block)}

    @flow
    def refused() -> None:
        bad = ProbableFuturesCredentials(client_id=emulator.client_id, client_secret=wrong_secret, api_url=emulator.url)
        extract_statistics.with_options(retries=0)(
            bad, [{"site_id": "y", "latitude": 1, "longitude": 2}], str(output / "y.jsonl")
        )

    with temporary_settings(
        {
            prefect.settings.PREFECT_RESULTS_PERSIST_BY_DEFAULT: True,
            prefect.settings.PREFECT_LOCAL_STORAGE_PATH: results,
        }
    ):
        assert minimal_flow.minimal_flow()  # rows for one point
        assert mixed("probable-futures")["length"] > 20
        assert portfolio_flow.portfolio_flow(output_dir=str(output), global_rate_limit=None)["rows"] > 0
        assert refused(return_state=True).is_failed()

    tokens = emulator.issued_tokens
    assert tokens, "the runs obtained a token"
    needles = [canary_secret, wrong_secret, *tokens]

    messages = [log.message for log in read_all_logs()]
    assert any("Obtained a Probable Futures access token" in m for m in messages), (
        "pf_provider's own log records reach the server (PREFECT_LOGGING_EXTRA_LOGGERS), so they are checked too"
    )
    assert any("did not issue a token" in m for m in messages), "the refused run logged its error"
    for message in messages:
        for needle in needles:
            assert needle not in message

    with get_client(sync_client=True) as client:
        records = [r.model_dump_json() for r in client.read_flow_runs()]
        records += [r.model_dump_json() for r in client.read_task_runs()]
        records += [r.model_dump_json() for r in client.read_artifacts()]
    assert len(records) > 10
    for record in records:
        for needle in needles:
            assert needle not in record

    database = Path(urlsplit(prefect_server["database_url"].replace("sqlite+aiosqlite:///", "file:///")).path)
    written = files_under(results, output, Path(prefect.settings.PREFECT_HOME.value()), database.parent)
    assert any(p.is_relative_to(results) for p in written), "results were persisted"
    for path in written:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, path
