"""The shared provider conformance suite, run over OpenAI-shaped recorded payloads."""

from __future__ import annotations

import subprocess
import sys

import costkit_openai
from costkit.testing import ProviderConformance


class TestOpenAIConformance(ProviderConformance):
    provider = "openai"
    plugin = costkit_openai
    fixture_prefixes = ("openai-", "ollama-v1-", "openrouter-")
    model = "gpt-4o-mini"


def test_plugin_import_is_light() -> None:
    """Importing the entry-point module loads neither httpx nor the driver."""
    code = (
        "import sys, costkit_openai; "
        "print(sorted(m for m in ('httpx', 'costkit.drivers', 'costkit_openai._driver') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
