"""The Ollama provider for costkit: local models served by Ollama, free by declaration.

Importing this module registers nothing by itself: costkit loads it through the ``costkit``
entry-point group and calls its hooks. It stays light to import; httpx and the driver are
imported only when a driver is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import costkit
from costkit_ollama._extract import extract
from costkit_ollama._prices import PRICES, PRICES_PRIORITY

if TYPE_CHECKING:
    from costkit_ollama._driver import OllamaDriver, OllamaModel

__all__ = [
    "PRICES",
    "OllamaDriver",
    "OllamaModel",
    "costkit_register_drivers",
    "costkit_register_pricing_sources",
    "costkit_register_token_extractors",
    "create_driver",
    "extract",
]

_LAZY = {"OllamaDriver", "OllamaModel"}


def create_driver(**options: Any) -> OllamaDriver:
    """Create an :class:`OllamaDriver`; the factory costkit calls with the provider options.

    ``api_key`` defaults to ``OLLAMA_API_KEY`` and ``base_url`` to ``OLLAMA_HOST``.
    """
    from costkit_ollama._driver import OllamaDriver

    return OllamaDriver(**options)


@costkit.hookimpl
def costkit_register_drivers(register: Callable[..., None]) -> None:
    """Register the ``ollama`` driver factory."""
    register("ollama", create_driver)


@costkit.hookimpl
def costkit_register_token_extractors(register: Callable[..., None]) -> None:
    """Register the ``ollama`` usage extractor."""
    register("ollama", extract)


@costkit.hookimpl
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register the declaration that every Ollama model is free, after the database."""
    register(PRICES, priority=PRICES_PRIORITY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from costkit_ollama import _driver

        return getattr(_driver, name)
    message = f"module 'costkit_ollama' has no attribute {name!r}"
    raise AttributeError(message)
