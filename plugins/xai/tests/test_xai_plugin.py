"""Tests of the plugin module: its exports, its registrations and its import cost."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import costkit_xai
from costkit.plugin.manager import PluginManager
from costkit_xai import TABLE


def test_all_sorted_and_complete() -> None:
    """__all__ is sorted and names only attributes the module has."""
    assert costkit_xai.__all__ == sorted(costkit_xai.__all__)
    for name in costkit_xai.__all__:
        assert hasattr(costkit_xai, name), name


def test_import_stays_light() -> None:
    """Importing the plugin module does not import httpx or the driver machinery."""
    code = (
        "import sys, costkit_xai\n"
        "loaded = [name for name in ('httpx', 'costkit.drivers', 'costkit_xai._driver') if name in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_entry_point_declared() -> None:
    """The distribution declares the costkit entry point xai = costkit_xai."""
    entry_points = metadata.distribution("costkit-xai").entry_points
    targets = {entry.name: entry.value for entry in entry_points if entry.group == "costkit"}
    assert targets == {"xai": "costkit_xai"}


def test_registrations(xai_manager: PluginManager) -> None:
    """The manager collects the driver, the extractor and the price table."""
    assert xai_manager.drivers()["xai"] is costkit_xai.create_driver
    assert xai_manager.token_extractors()["xai"] is costkit_xai.extract
    assert TABLE in xai_manager.pricing_sources()
