"""The entry-point module: light to import, and its registrations."""

from __future__ import annotations

import subprocess
import sys

import pytest

import costkit_ollama
from costkit.plugin.manager import PluginManager
from costkit_ollama import OllamaDriver


def test_import_is_light() -> None:
    """Importing the plugin pulls in neither httpx nor the driver module."""
    code = (
        "import sys, costkit_ollama\n"
        "loaded = [name for name in ('httpx', 'costkit.drivers', 'costkit_ollama._driver') if name in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_factory_builds_driver(ollama_manager: PluginManager) -> None:
    """The registered factory builds an OllamaDriver from options."""
    driver = ollama_manager.drivers()["ollama"](base_url="gpu-box:8080", timeout=5, max_retries=1)
    assert isinstance(driver, OllamaDriver)
    assert driver.base_url == "http://gpu-box:8080"
    assert driver.timeout == 5.0
    assert driver.max_retries == 1


def test_extractor_registered(ollama_manager: PluginManager) -> None:
    """The registered extractor is the plugin's extract()."""
    assert ollama_manager.token_extractors()["ollama"] is costkit_ollama.extract


def test_unknown_attribute() -> None:
    """An unknown attribute raises AttributeError."""
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = costkit_ollama.Missing  # type: ignore[attr-defined]
