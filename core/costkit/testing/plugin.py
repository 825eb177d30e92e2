"""The pytest plugin costkit ships: fixtures for costkit and for provider plugin authors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from costkit.plugin.manager import PluginManager
from costkit.testing._fixtures import FIXTURES_ENV, fixtures_dir

__all__ = ["plugin_manager", "recorded_payloads"]


@pytest.fixture
def plugin_manager() -> Iterator[PluginManager]:
    """An isolated plugin manager: the built-ins only, whatever else is installed.

    Register the plugins a test needs with ``plugin_manager.register(module, name=...)``.
    """
    yield PluginManager(load_entry_points=False)


@pytest.fixture
def recorded_payloads() -> Path:
    """The folder of recorded provider bodies; skips the test where it is absent."""
    folder = fixtures_dir()
    if folder is None:
        pytest.skip(f"recorded provider payloads not found; set {FIXTURES_ENV} to their folder")
    return folder
