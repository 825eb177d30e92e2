"""The shared provider conformance suite, run against the Gemini plugin."""

from __future__ import annotations

import subprocess
import sys

import costkit_gemini
from costkit.plugin.manager import PluginManager
from costkit.testing import ProviderConformance


class TestGeminiConformance(ProviderConformance):
    """Registrations, recorded usage, error bodies and key hiding of the Gemini plugin."""

    provider = "gemini"
    plugin = costkit_gemini
    fixture_prefixes = ("gemini-",)
    model = "gemini-2.5-flash"


def test_entry_module_light() -> None:
    """Importing the entry-point module loads neither httpx nor the driver base."""
    code = "import sys, costkit_gemini; print(sorted({'httpx', 'costkit.drivers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_factory_builds_driver() -> None:
    """The registered factory returns a Gemini driver for the given options."""
    manager = PluginManager(load_entry_points=False)
    manager.register(costkit_gemini, name="gemini-factory-test")
    driver = manager.drivers()["gemini"](api_key="unused-key", base_url="http://127.0.0.1:9/v1beta")
    assert driver.provider == "gemini"
    assert driver.base_url == "http://127.0.0.1:9/v1beta"
