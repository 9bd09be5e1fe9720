"""The smallest useful flow: load the saved credentials block and fetch one location.

    python minimal_flow.py                     # uses the block named "probable-futures"
    python minimal_flow.py --block my-creds    # another block

Create the block first, in the UI (Blocks -> Probable Futures Credentials, after
``prefect block register -m pf_provider.prefect``) or in code::

    ProbableFuturesCredentials(client_id="...", client_secret="...").save("probable-futures")
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, get_run_logger

from pf_provider.prefect import ProbableFuturesCredentials
from pf_provider.prefect.tasks import get_dataset_statistics


@flow(name="pf-minimal-statistics")
def minimal_flow(
    block_name: str = "probable-futures",
    latitude: float = 40.7128,
    longitude: float = -74.0060,
    warming_scenario: str = "2.0",
    dataset_id: int = 40104,
) -> list[dict[str, Any]]:
    """Days above 32°C at one point under one warming scenario."""
    credentials = ProbableFuturesCredentials.load(block_name)
    rows = get_dataset_statistics(
        credentials,
        latitude=latitude,
        longitude=longitude,
        warming_scenario=warming_scenario,
        dataset_id=dataset_id,
        fields=["name", "unit", "low_value", "mid_value", "high_value", "latitude", "longitude"],
    )
    logger = get_run_logger()
    for row in rows:
        logger.info(
            "%s at +%s°C: %s %s (5th-95th percentile %s-%s)",
            row["name"],
            row["warming_scenario"],
            row["mid_value"],
            row["unit"],
            row["low_value"],
            row["high_value"],
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fetch one location with a saved credentials block")
    parser.add_argument("--block", default="probable-futures")
    minimal_flow(block_name=parser.parse_args().block)
