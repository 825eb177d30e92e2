"""The shared provider conformance suite, run against the Gemini plugin."""

from __future__ import annotations

import costkit_gemini
from costkit.testing import ProviderConformance


class TestGeminiConformance(ProviderConformance):
    """Registrations, recorded usage, error bodies and key hiding of the Gemini plugin."""

    provider = "gemini"
    plugin = costkit_gemini
    fixture_prefixes = ("gemini-",)
    model = "gemini-2.5-flash"
