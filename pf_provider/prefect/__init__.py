"""Prefect 3 integration: the ``Probable Futures Credentials`` block, tasks and a rate limit.

This module is the package's ``prefect.collections`` entry point: Prefect imports it when
a server starts (and when blocks are resolved), and importing it defines the block class,
which registers its type. ``prefect block register -m pf_provider.prefect`` registers it
by hand. The tasks load on first access, so a server start imports only the block.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .credentials import ProbableFuturesCredentials

_LAZY = {
    "get_dataset_statistics": "pf_provider.prefect.tasks",
    "execute_graphql": "pf_provider.prefect.tasks",
    "extract_statistics": "pf_provider.prefect.tasks",
    "GlobalRateLimiter": "pf_provider.prefect.rate_limit",
    "DEFAULT_RATE_LIMIT_NAME": "pf_provider.prefect.rate_limit",
    "ensure_rate_limit": "pf_provider.prefect.rate_limit",
    "rate_limit_settings": "pf_provider.prefect.rate_limit",
}

__all__ = [
    "DEFAULT_RATE_LIMIT_NAME",
    "GlobalRateLimiter",
    "ProbableFuturesCredentials",
    "ensure_rate_limit",
    "execute_graphql",
    "extract_statistics",
    "get_dataset_statistics",
    "rate_limit_settings",
]

if TYPE_CHECKING:
    from .rate_limit import DEFAULT_RATE_LIMIT_NAME, GlobalRateLimiter, ensure_rate_limit, rate_limit_settings
    from .tasks import execute_graphql, extract_statistics, get_dataset_statistics


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pf_provider.prefect' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
