"""The xAI provider for costkit: Grok models through the Chat Completions and Responses APIs.

The module registers a driver (``xai``), a usage extractor and a static price table, and checks
every computed cost against the charge xAI states in ``cost_in_usd_ticks``. Importing it stays
cheap: the httpx-based driver is imported only when a client first builds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import costkit
from costkit_xai._extract import TICKS_PER_USD, extract, ticks_to_usd
from costkit_xai._prices import TABLE
from costkit_xai._reconcile import reconcile

if TYPE_CHECKING:
    from costkit import CostCalculated
    from costkit_xai._driver import XAIDriver

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "PROVIDER",
    "TABLE",
    "TICKS_PER_USD",
    "costkit_cost_calculated",
    "costkit_register_drivers",
    "costkit_register_pricing_sources",
    "costkit_register_token_extractors",
    "create_driver",
    "extract",
    "reconcile",
    "ticks_to_usd",
]

PROVIDER: Final = "xai"
"""The provider name requests use."""

API_KEY_ENV: Final = "XAI_API_KEY"
"""Environment variable read for the API key when the options give none."""

BASE_URL_ENV: Final = "XAI_BASE_URL"
"""Environment variable read for the API root when the options give none."""


def create_driver(**options: Any) -> XAIDriver:
    """Build the xAI driver, filling ``api_key`` and ``base_url`` from the environment.

    Args:
        **options: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``transport`` or
            ``headers``. A missing or ``None`` key is read from ``XAI_API_KEY``, a missing or
            ``None`` base URL from ``XAI_BASE_URL`` (default ``https://api.x.ai/v1``).

    Raises:
        ConfigurationError: An option is unknown or invalid.
    """
    from costkit_xai._driver import XAIDriver

    if options.get("api_key") is None:
        options["api_key"] = os.environ.get(API_KEY_ENV) or None
    if options.get("base_url") is None:
        options["base_url"] = os.environ.get(BASE_URL_ENV) or None
    return XAIDriver(**options)


@costkit.hookimpl
def costkit_register_drivers(register: Callable[..., None]) -> None:
    """Register the ``xai`` driver factory."""
    register(PROVIDER, create_driver)


@costkit.hookimpl
def costkit_register_token_extractors(register: Callable[..., None]) -> None:
    """Register the ``xai`` usage extractor."""
    register(PROVIDER, extract)


@costkit.hookimpl
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register the static Grok price table at the provider-table priority."""
    register(TABLE, priority=100)


@costkit.hookimpl
def costkit_cost_calculated(event: CostCalculated) -> None:
    """Warn when the computed cost of an xAI response differs from the charge xAI stated."""
    if event.request.provider != PROVIDER:
        return
    reconcile(event.cost)
