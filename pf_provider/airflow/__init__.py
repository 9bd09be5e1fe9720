"""Airflow 3 adapter: the ``probable_futures`` connection type, its hook and operators.

Names load on first access, so importing this package (Airflow does it while listing
providers) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ProbableFuturesHook": "pf_provider.airflow.hooks",
    "ProbableFuturesDatasetStatisticsOperator": "pf_provider.airflow.operators",
    "ProbableFuturesGraphQLOperator": "pf_provider.airflow.operators",
}

__all__ = ["ProbableFuturesDatasetStatisticsOperator", "ProbableFuturesGraphQLOperator", "ProbableFuturesHook"]

if TYPE_CHECKING:
    from .hooks import ProbableFuturesHook
    from .operators import ProbableFuturesDatasetStatisticsOperator, ProbableFuturesGraphQLOperator


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pf_provider.airflow' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
