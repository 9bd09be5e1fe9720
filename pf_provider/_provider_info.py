"""Provider metadata for Airflow (filled in by the Airflow adapter work)."""

from __future__ import annotations

from typing import Any

PROVIDER_INFO: dict[str, Any] = {
    "package-name": "pf-provider",
    "name": "Probable Futures",
    "description": "Probable Futures climate-data API.",
    "versions": ["0.1.0"],
    "connection-types": [],
}
