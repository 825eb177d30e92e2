"""The Google Gemini provider for costkit.

This module holds only the hook implementations, so that loading the plugin stays cheap: the
httpx-based driver is imported the first time a driver is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import costkit
from costkit_gemini._extract import extract
from costkit_gemini._prices import TABLE

if TYPE_CHECKING:
    from costkit_gemini._driver import GeminiDriver

__all__ = [
    "TABLE",
    "costkit_register_drivers",
    "costkit_register_pricing_sources",
    "costkit_register_token_extractors",
    "extract",
]


def _factory(**options: Any) -> GeminiDriver:
    from costkit_gemini._driver import create_driver

    return create_driver(**options)


@costkit.hookimpl
def costkit_register_drivers(register: Callable[..., None]) -> None:
    """Register the ``gemini`` driver."""
    register("gemini", _factory)


@costkit.hookimpl
def costkit_register_token_extractors(register: Callable[..., None]) -> None:
    """Register the ``gemini`` usage extractor."""
    register("gemini", extract)


@costkit.hookimpl
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register the static Gemini price table."""
    register(TABLE, priority=100)
