"""The static price table of Gemini models on the Gemini Developer API (USD per million tokens).

Rates are the Gemini API's standard (paid tier) rates from ai.google.dev/gemini-api/docs/pricing,
read through two public price datasets that cite that page (genai-prices 0.2.3 and the
LiteLLM 1.110.2 model price list) and cross-checked against each other. A rate that only one
of them lists, or that neither lists, carries a NOTE where it is set.

What the table cannot express, because ``ModelPrice`` has no field for it:

- cached audio tokens have their own rate on most models, such as $0.10 instead of $0.03 on
  Gemini 2.5 Flash, but costkit bills every cached token at ``cached_input``;
- video input on Gemini Embedding 2 ($12) is billed as text;
- service tiers combined with prompt-length tiers, so models with a tier above 200,000
  prompt tokens list no ``batch`` rates;
- cache storage per hour and grounding requests, which are not token counts.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from costkit._price import ModelPrice, PriceTier, ServiceTierPrice
from costkit.pricing import StaticPriceTable

__all__ = ["PRICES", "SOURCE", "TABLE"]

SOURCE: Final = (
    "costkit-gemini price table (ai.google.dev/gemini-api/docs/pricing, via genai-prices 0.2.3 "
    "and LiteLLM 1.110.2, checked 2026-12-04)"
)
"""The provenance of every price in the table."""

# Google cut the Gemini 1.5 prices on these dates (announced with the 1.5-002 models).
_FLASH_15_CUT: Final = date(2024, 8, 12)
_PRO_15_CUT: Final = date(2024, 10, 1)
# Gemini 3.6 Flash launched at introductory rates that end with 2026.
_FLASH_36_STANDARD: Final = date(2027, 1, 1)


def _price(model: str, **fields: Any) -> ModelPrice:
    return ModelPrice(provider="gemini", model=model, source=SOURCE, **fields)


def _batch(**rates: str) -> ServiceTierPrice:
    return ServiceTierPrice("batch", **rates)


PRICES: Final = (
    # --- Gemini 3 ---------------------------------------------------------------------------
    _price(
        "gemini-3.1-pro-preview",
        input="2",
        cached_input="0.2",
        output="12",
        tiers=[PriceTier(threshold=200_000, inclusive=False, input="4", cached_input="0.4", output="18")],
    ),
    _price(
        "gemini-3-pro-preview",
        input="2",
        cached_input="0.2",
        output="12",
        tiers=[PriceTier(threshold=200_000, inclusive=False, input="4", cached_input="0.4", output="18")],
        # NOTE: only genai-prices lists this model (shut down since); its rates equal 3.1 Pro's.
    ),
    _price(
        "gemini-3-flash-preview",
        input="0.5",
        cached_input="0.05",
        output="3",
        audio_input="1",
        service_tiers=[_batch(input="0.25", output="1.5", audio_input="0.5")],
    ),
    _price(
        "gemini-3.1-flash-lite",
        input="0.25",
        cached_input="0.025",
        output="1.5",
        audio_input="0.5",
        aliases=("gemini-3.1-flash-lite-preview",),
        service_tiers=[_batch(input="0.125", cached_input="0.0125", output="0.75", audio_input="0.25")],
    ),
    _price(
        "gemini-3.1-flash-lite-image",
        input="0.25",
        output="1.5",
        image_output="30",
        service_tiers=[_batch(input="0.125", output="0.75", image_output="15")],
    ),
    _price("gemini-3.5-flash", input="1.5", cached_input="0.15", output="9"),
    _price(
        "gemini-3.6-flash",
        input="0.75",
        cached_input="0.075",
        output="3.75",
        effective_to=_FLASH_36_STANDARD,
    ),
    _price(
        "gemini-3.6-flash",
        input="1.5",
        cached_input="0.15",
        output="7.5",
        effective_from=_FLASH_36_STANDARD,
        # NOTE: only genai-prices lists the rates from 2027-01-01; LiteLLM has the introductory ones.
    ),
    # --- Gemini 2.5 -------------------------------------------------------------------------
    _price(
        "gemini-2.5-pro",
        input="1.25",
        cached_input="0.125",
        output="10",
        tiers=[PriceTier(threshold=200_000, inclusive=False, input="2.5", cached_input="0.25", output="15")],
        # NOTE: cache reads were $0.31 / $0.625 before Google lowered them. Neither dataset
        # gives the date of that change, so the lower rates apply to every date.
    ),
    _price(
        "gemini-2.5-flash",
        input="0.3",
        cached_input="0.03",
        output="2.5",
        audio_input="1",
        service_tiers=[_batch(input="0.15", output="1.25", audio_input="0.5")],
        # NOTE: cache reads were $0.075 before Google lowered them (date not in either dataset).
        # The 2025 previews -preview-04-17 and -preview-05-20, billed $0.15 / $0.60, resolve
        # here through the date-suffix rule.
    ),
    _price(
        "gemini-2.5-flash-lite",
        input="0.1",
        cached_input="0.01",
        output="0.4",
        audio_input="0.3",
        service_tiers=[_batch(input="0.05", output="0.2", audio_input="0.15")],
    ),
    _price(
        "gemini-2.5-flash-image",
        input="0.3",
        output="2.5",
        image_output="30",
        aliases=("gemini-2.5-flash-image-preview",),
    ),
    _price(
        "gemini-2.5-flash-preview-tts",
        input="0.5",
        output="10",
        aliases=("gemini-2.5-flash-tts",),
        service_tiers=[_batch(input="0.25", output="5")],
    ),
    _price(
        "gemini-2.5-pro-preview-tts",
        input="1",
        output="20",
        aliases=("gemini-2.5-pro-tts",),
        service_tiers=[_batch(input="0.5", output="10")],
    ),
    # --- Gemini 2.0 (shut down; kept to price recorded usage) --------------------------------
    _price(
        "gemini-2.0-flash",
        input="0.1",
        cached_input="0.025",
        output="0.4",
        audio_input="0.7",
        # NOTE: gemini-2.0-flash-exp was free while experimental; it is priced like 2.0 Flash,
        # as genai-prices does, so that it is never silently $0.
        aliases=("gemini-2.0-flash-001", "gemini-2.0-flash-exp"),
    ),
    _price(
        "gemini-2.0-flash-lite",
        input="0.075",
        output="0.3",
        aliases=("gemini-2.0-flash-lite-001",),
    ),
    # --- Gemini 1.5 (shut down; prompt-length tier above 128,000 tokens) ---------------------
    _price(
        "gemini-1.5-pro",
        input="3.5",
        cached_input="0.875",
        output="10.5",
        tiers=[PriceTier(threshold=128_000, inclusive=False, input="7", cached_input="1.75", output="21")],
        aliases=("gemini-1.5-pro-001", "gemini-1.5-pro-002"),
        effective_to=_PRO_15_CUT,
        # NOTE: the cache-read rates before the cut are not in either dataset.
    ),
    _price(
        "gemini-1.5-pro",
        input="1.25",
        cached_input="0.3125",
        output="5",
        tiers=[PriceTier(threshold=128_000, inclusive=False, input="2.5", cached_input="0.625", output="10")],
        aliases=("gemini-1.5-pro-001", "gemini-1.5-pro-002"),
        effective_from=_PRO_15_CUT,
        # NOTE: neither dataset lists the cache-read rates of 1.5 Pro.
    ),
    _price(
        "gemini-1.5-flash",
        input="0.35",
        cached_input="0.0875",
        output="1.05",
        tiers=[PriceTier(threshold=128_000, inclusive=False, input="0.7", cached_input="0.175", output="2.1")],
        aliases=("gemini-1.5-flash-001", "gemini-1.5-flash-002"),
        effective_to=_FLASH_15_CUT,
        # NOTE: the tier and cache-read rates before the cut are not in either dataset.
    ),
    _price(
        "gemini-1.5-flash",
        input="0.075",
        cached_input="0.01875",
        output="0.3",
        tiers=[PriceTier(threshold=128_000, inclusive=False, input="0.15", cached_input="0.0375", output="0.6")],
        aliases=("gemini-1.5-flash-001", "gemini-1.5-flash-002"),
        effective_from=_FLASH_15_CUT,
    ),
    _price(
        "gemini-1.5-flash-8b",
        input="0.0375",
        cached_input="0.01",
        output="0.15",
        tiers=[PriceTier(threshold=128_000, inclusive=False, input="0.075", cached_input="0.02", output="0.3")],
        aliases=("gemini-1.5-flash-8b-001",),
    ),
    # --- Embeddings (input only) -------------------------------------------------------------
    _price("gemini-embedding-001", input="0.15", service_tiers=[_batch(input="0.075")]),
    _price(
        "gemini-embedding-2",
        input="0.2",
        audio_input="6.5",
        image_input="0.45",
        aliases=("gemini-embedding-2-preview",),
        service_tiers=[_batch(input="0.1", audio_input="3.25", image_input="0.225")],
    ),
    # NOTE: the Gemini API listed text-embedding-004 as free of charge; neither dataset
    # confirms it for the Gemini API (Vertex AI bills it per character).
    ModelPrice(provider="gemini", model="text-embedding-004", free=True, source=SOURCE),
)
"""Every Gemini price costkit ships; several prices under one name form its history."""

TABLE: Final = StaticPriceTable(SOURCE, PRICES)
"""The pricing source that the plugin registers."""
