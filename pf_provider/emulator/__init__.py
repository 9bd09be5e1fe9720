"""A local emulator of the Probable Futures API, for offline development and tests.

It is a real HTTP server on 127.0.0.1 that issues RS256 tokens, enforces the rate limit,
validates GraphQL against the published schema and answers ``getDatasetStatistics`` with
deterministic synthetic data, plus knobs to inject the failures a client must survive::

    from pf_provider.emulator import Emulator, EmulatorConfig

    with Emulator(EmulatorConfig(rate_limit=10, rate_window=1.0)) as emu:
        ...  # point a client at emu.url with emu.client_id / emu.client_secret

Run ``python -m pf_provider.emulator`` for a standalone server, or use the ``pf_emulator``
and ``pf_emulator_factory`` pytest fixtures. Importing this package is cheap: the server
and its dependencies load on first use of a name below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pf_provider.emulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorConfig
    from pf_provider.emulator.server import Emulator
    from pf_provider.emulator.stats import EmulatorStats, RequestRecord

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "Emulator", "EmulatorConfig", "EmulatorStats", "RequestRecord"]

_HOMES = {
    "DEMO_CLIENT_ID": "config",
    "DEMO_CLIENT_SECRET": "config",
    "EmulatorConfig": "config",
    "Emulator": "server",
    "EmulatorStats": "stats",
    "RequestRecord": "stats",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
