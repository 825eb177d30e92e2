"""The shared provider conformance suite, run over the recorded xAI bodies."""

from __future__ import annotations

from typing import Any, ClassVar

import costkit_xai
from costkit.testing import ProviderConformance


class TestXAIConformance(ProviderConformance):
    """Registrations, recorded usage, error bodies and key hiding of the xAI plugin."""

    provider: ClassVar[str] = "xai"
    plugin: ClassVar[Any] = costkit_xai
    fixture_prefixes: ClassVar[tuple[str, ...]] = ("xai-",)
    model: ClassVar[str] = "grok-4-fast-non-reasoning"
