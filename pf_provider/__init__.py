"""pf-provider: the Probable Futures climate-data API for Airflow 3 and Prefect 3.

The core (client, validation, models, bulk extraction) imports neither Airflow nor
Prefect; the adapters live in :mod:`pf_provider.airflow` and :mod:`pf_provider.prefect`.
Names are loaded on first access so that Airflow's provider discovery, which imports this
module to call :func:`get_provider_info`, stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ProbableFuturesClient": "pf_provider.client",
    "StatisticsQuery": "pf_provider.client",
    "StatisticsResult": "pf_provider.client",
    "RetryPolicy": "pf_provider.transport",
    "RateLimiter": "pf_provider.ratelimit",
    "DatasetStatistic": "pf_provider.models",
    "Location": "pf_provider.validation",
    "ProbableFuturesError": "pf_provider.errors",
    "InvalidInputError": "pf_provider.errors",
    "ConfigurationError": "pf_provider.errors",
    "AuthenticationError": "pf_provider.errors",
    "PermissionDeniedError": "pf_provider.errors",
    "RateLimitError": "pf_provider.errors",
    "TransportError": "pf_provider.errors",
    "InvalidResponseError": "pf_provider.errors",
    "GraphQLError": "pf_provider.errors",
    "BatchError": "pf_provider.errors",
}

__all__ = [
    "AuthenticationError",
    "BatchError",
    "ConfigurationError",
    "DatasetStatistic",
    "GraphQLError",
    "InvalidInputError",
    "InvalidResponseError",
    "Location",
    "PermissionDeniedError",
    "ProbableFuturesClient",
    "ProbableFuturesError",
    "RateLimitError",
    "RateLimiter",
    "RetryPolicy",
    "StatisticsQuery",
    "StatisticsResult",
    "TransportError",
    "__version__",
    "get_provider_info",
]

if TYPE_CHECKING:
    from .client import ProbableFuturesClient, StatisticsQuery, StatisticsResult
    from .errors import (
        AuthenticationError,
        BatchError,
        ConfigurationError,
        GraphQLError,
        InvalidInputError,
        InvalidResponseError,
        PermissionDeniedError,
        ProbableFuturesError,
        RateLimitError,
        TransportError,
    )
    from .models import DatasetStatistic
    from .ratelimit import RateLimiter
    from .transport import RetryPolicy
    from .validation import Location


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pf_provider' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def get_provider_info() -> dict[str, Any]:
    """Airflow's provider metadata. Imports nothing: Airflow calls it while it starts."""
    from copy import deepcopy

    from ._provider_info import PROVIDER_INFO

    return deepcopy(PROVIDER_INFO)  # Airflow adds keys to what it is given
