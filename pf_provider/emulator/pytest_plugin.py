"""pytest fixtures that start the Probable Futures API emulator for a test.

Registered through the ``pytest11`` entry point, so any project that installs pf-provider
can test its pipelines offline::

    def test_my_pipeline(pf_emulator):
        pf_emulator.configure(error_rate=0.2)
        run_pipeline(base_url=pf_emulator.url,
                     client_id=pf_emulator.client_id, client_secret=pf_emulator.client_secret)
        assert pf_emulator.stats.graphql_requests > 0

    def test_tight_limit(pf_emulator_factory):
        emu = pf_emulator_factory(rate_limit=5, rate_window=1.0)

Importing this module imports nothing heavy: the emulator loads when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pf_provider.emulator.server import Emulator


@pytest.fixture
def pf_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A callable taking :class:`~pf_provider.emulator.EmulatorConfig` keyword arguments and
    returning a started :class:`~pf_provider.emulator.Emulator`; all are stopped after the test."""
    from pf_provider.emulator.config import EmulatorConfig
    from pf_provider.emulator.server import Emulator

    started: list[Emulator] = []

    def factory(**settings: Any) -> Emulator:
        emulator = Emulator(EmulatorConfig(**settings)).start()
        started.append(emulator)
        return emulator

    try:
        yield factory
    finally:
        for emulator in started:
            emulator.stop()


@pytest.fixture
def pf_emulator(pf_emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A started emulator with the default settings (demo credentials, 100 requests/minute,
    no faults), stopped after the test. Call ``pf_emulator.configure(...)`` to change knobs."""
    return pf_emulator_factory()
