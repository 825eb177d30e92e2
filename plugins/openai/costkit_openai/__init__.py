"""The OpenAI provider for costkit: a driver, a usage extractor and a price table.

The driver covers Chat Completions, the Responses API and embeddings on api.openai.com and
on any OpenAI-compatible server (llama.cpp, vLLM, Ollama's ``/v1``) named by ``base_url``.

This module contains only the hook implementations, so that loading the plugin stays cheap:
httpx and the driver are imported when a driver is first built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import costkit

if TYPE_CHECKING:
    from costkit_openai._driver import OpenAIDriver

__all__ = ["costkit_register_drivers", "costkit_register_pricing_sources", "costkit_register_token_extractors"]

PROVIDER = "openai"


def _driver_factory(**options: Any) -> OpenAIDriver:
    from costkit_openai._driver import OpenAIDriver

    return OpenAIDriver(**options)


@costkit.hookimpl
def costkit_register_drivers(register: Callable[..., None]) -> None:
    """Register the OpenAI driver under ``openai``."""
    register(PROVIDER, _driver_factory)


@costkit.hookimpl
def costkit_register_token_extractors(register: Callable[..., None]) -> None:
    """Register the extractor of OpenAI-shaped usage under ``openai``."""
    from costkit_openai._extract import extract

    register(PROVIDER, extract)


@costkit.hookimpl
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register the static OpenAI price table after the database source."""
    from costkit_openai._prices import TABLE

    register(TABLE, priority=100)
