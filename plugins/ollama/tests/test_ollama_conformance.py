"""The shared provider conformance suite, run over the recorded native Ollama API bodies."""

from __future__ import annotations

import costkit_ollama
from costkit.testing import ProviderConformance


class TestOllamaConformance(ProviderConformance):
    """Registrations, recorded usage, error bodies and key hiding of the Ollama plugin."""

    provider = "ollama"
    plugin = costkit_ollama
    # ollama-v1-* bodies come from Ollama's OpenAI-compatible API, which the OpenAI plugin drives.
    fixture_prefixes = ("ollama-api-",)
    model = "llama3.2"
