"""The static price table of OpenAI models, in USD per million tokens.

Rates come from OpenAI's pricing page (platform.openai.com/docs/pricing, now also served at
developers.openai.com/api/docs/pricing) and the per-model pages under
developers.openai.com/api/docs/models, cross-checked against pydantic/genai-prices
(``prices/providers/openai.yml``) and GitHub's Copilot model price table. A ``NOTE`` comment marks
each rate that could not be confirmed.

Dated snapshots (``gpt-4o-2024-08-06``, ``o3-mini-2025-01-31``, ``gpt-3.5-turbo-0125``)
resolve to their family entry through the pricing chain's date-suffix rule. A snapshot
with a price of its own has its own entry. OpenAI's Batch API bills at the ``batch`` service
tier; ``flex`` and ``priority`` are the ``service_tier`` values a request sends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from costkit._price import ModelPrice, PriceTier, ServiceTierPrice
from costkit.pricing import StaticPriceTable

__all__ = ["PRICES", "SOURCE", "TABLE"]

SOURCE: Final = "costkit-openai price table (platform.openai.com/docs/pricing, checked 2026-12-04)"

LONG_CONTEXT_THRESHOLD: Final = 272_000
"""Prompt tokens above which GPT-5.4 and GPT-5.5 bill the whole request at 2x input and
1.5x output (developers.openai.com/api/docs/models/gpt-5.4)."""


def _rate(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _price(model: str, input: str, output: str, cached_input: str | None = None, **extra: Any) -> ModelPrice:
    return ModelPrice(
        provider="openai",
        model=model,
        input=Decimal(input),
        output=Decimal(output),
        cached_input=_rate(cached_input),
        source=SOURCE,
        **extra,
    )


def _tier(name: str, input: str, output: str, cached_input: str | None = None) -> ServiceTierPrice:
    return ServiceTierPrice(name=name, input=Decimal(input), output=Decimal(output), cached_input=_rate(cached_input))


def _long_context(input: str, cached_input: str, output: str) -> PriceTier:
    return PriceTier(
        threshold=LONG_CONTEXT_THRESHOLD,
        input=Decimal(input),
        cached_input=Decimal(cached_input),
        output=Decimal(output),
    )


# The pricing page lists no cached rate ("-") for some models in the batch tier. There the
# cached rate equals the batch input rate, so cached tokens are billed like uncached ones.

PRICES: Final[tuple[ModelPrice, ...]] = (
    # --- GPT-5 family -------------------------------------------------------------------
    _price(
        "gpt-5.5",
        "5.00",
        "30.00",
        "0.50",
        tiers=[_long_context("10.00", "1.00", "45.00")],
        # NOTE: batch, flex and priority rates for gpt-5.5 were not confirmed, so none are listed.
    ),
    _price(
        "gpt-5.4",
        "2.50",
        "15.00",
        "0.25",
        tiers=[_long_context("5.00", "0.50", "22.50")],
        # NOTE: the chain applies a prompt-length tier over the service-tier rates, so a batch
        # or flex request above 272K tokens is billed at the standard long-context rates (2x
        # too high); OpenAI halves those too.
        service_tiers=[
            _tier("batch", "1.25", "7.50", "0.125"),
            _tier("flex", "1.25", "7.50", "0.125"),
            _tier("priority", "5.00", "30.00", "0.50"),
        ],
    ),
    _price("gpt-5.4-mini", "0.75", "4.50", "0.075"),
    _price("gpt-5.4-nano", "0.20", "1.25", "0.02"),
    # NOTE: batch, flex and priority rates for gpt-5.2 were not confirmed, so none are listed.
    _price("gpt-5.2", "1.75", "14.00", "0.175"),
    _price(
        "gpt-5.1",
        "1.25",
        "10.00",
        "0.125",
        service_tiers=[
            _tier("batch", "0.625", "5.00", "0.0625"),
            _tier("flex", "0.625", "5.00", "0.0625"),
            _tier("priority", "2.50", "20.00", "0.25"),
        ],
    ),
    _price(
        "gpt-5",
        "1.25",
        "10.00",
        "0.125",
        service_tiers=[
            _tier("batch", "0.625", "5.00", "0.0625"),
            _tier("flex", "0.625", "5.00", "0.0625"),
            _tier("priority", "2.50", "20.00", "0.25"),
        ],
    ),
    _price(
        "gpt-5-mini",
        "0.25",
        "2.00",
        "0.025",
        service_tiers=[
            _tier("batch", "0.125", "1.00", "0.0125"),
            _tier("flex", "0.125", "1.00", "0.0125"),
            _tier("priority", "0.45", "3.60", "0.045"),
        ],
    ),
    _price(
        "gpt-5-nano",
        "0.05",
        "0.40",
        "0.005",
        service_tiers=[
            _tier("batch", "0.025", "0.20", "0.0025"),
            _tier("flex", "0.025", "0.20", "0.0025"),
        ],
    ),
    # --- GPT-4.1 ------------------------------------------------------------------------
    _price(
        "gpt-4.1",
        "2.00",
        "8.00",
        "0.50",
        service_tiers=[_tier("batch", "1.00", "4.00", "1.00"), _tier("priority", "3.50", "14.00", "0.875")],
    ),
    _price(
        "gpt-4.1-mini",
        "0.40",
        "1.60",
        "0.10",
        service_tiers=[_tier("batch", "0.20", "0.80", "0.20"), _tier("priority", "0.70", "2.80", "0.175")],
    ),
    _price(
        "gpt-4.1-nano",
        "0.10",
        "0.40",
        "0.025",
        service_tiers=[_tier("batch", "0.05", "0.20", "0.05"), _tier("priority", "0.20", "0.80", "0.05")],
    ),
    # --- GPT-4o -------------------------------------------------------------------------
    # gpt-4o-2024-08-06 and gpt-4o-2024-11-20 resolve here. gpt-4o-2024-05-13 has its own, higher price.
    _price(
        "gpt-4o",
        "2.50",
        "10.00",
        "1.25",
        service_tiers=[_tier("batch", "1.25", "5.00", "1.25"), _tier("priority", "4.25", "17.00", "2.125")],
    ),
    _price(
        "gpt-4o-2024-05-13",
        "5.00",
        "15.00",
        service_tiers=[_tier("batch", "2.50", "7.50"), _tier("priority", "8.75", "26.25")],
    ),
    _price(
        "gpt-4o-mini",
        "0.15",
        "0.60",
        "0.075",
        service_tiers=[_tier("batch", "0.075", "0.30", "0.075"), _tier("priority", "0.25", "1.00", "0.125")],
    ),
    # Audio models bill audio tokens at their own rates and text tokens at input/output.
    _price("gpt-4o-audio-preview", "2.50", "10.00", audio_input=Decimal("40.00"), audio_output=Decimal("80.00")),
    _price("gpt-4o-mini-audio-preview", "0.15", "0.60", audio_input=Decimal("10.00"), audio_output=Decimal("20.00")),
    _price("gpt-audio", "2.50", "10.00", audio_input=Decimal("32.00"), audio_output=Decimal("64.00")),
    _price("gpt-audio-mini", "0.60", "2.40", audio_input=Decimal("10.00"), audio_output=Decimal("20.00")),
    # --- o-series -----------------------------------------------------------------------
    _price("o1", "15.00", "60.00", "7.50", service_tiers=[_tier("batch", "7.50", "30.00", "7.50")]),
    # NOTE: o1-mini launched at 3.00 / 12.00 and was cut to 1.10 / 4.40; the date of that cut
    # was not confirmed, so only the current rates are listed.
    _price("o1-mini", "1.10", "4.40", "0.55", service_tiers=[_tier("batch", "0.55", "2.20", "0.55")]),
    # o3 was cut by 80 % on 2025-06-10; both prices are kept so older requests reprice right.
    # NOTE: the service-tier rates before the cut were not confirmed, so the old price has none.
    _price("o3", "10.00", "40.00", "2.50", effective_to="2025-06-10"),
    _price(
        "o3",
        "2.00",
        "8.00",
        "0.50",
        effective_from="2025-06-10",
        service_tiers=[
            _tier("batch", "1.00", "4.00", "1.00"),
            _tier("flex", "1.00", "4.00", "0.25"),
            _tier("priority", "3.50", "14.00", "0.875"),
        ],
    ),
    _price("o3-mini", "1.10", "4.40", "0.55", service_tiers=[_tier("batch", "0.55", "2.20", "0.55")]),
    _price(
        "o4-mini",
        "1.10",
        "4.40",
        "0.275",
        service_tiers=[
            _tier("batch", "0.55", "2.20", "0.55"),
            _tier("flex", "0.55", "2.20", "0.138"),
            _tier("priority", "2.00", "8.00", "0.50"),
        ],
    ),
    # --- GPT-3.5 Turbo ------------------------------------------------------------------
    # gpt-3.5-turbo-0125 resolves here. Older snapshots kept their launch prices.
    _price("gpt-3.5-turbo", "0.50", "1.50", service_tiers=[_tier("batch", "0.25", "0.75")]),
    _price("gpt-3.5-turbo-1106", "1.00", "2.00"),
    _price("gpt-3.5-turbo-0613", "1.50", "2.00"),
    _price("gpt-3.5-turbo-instruct", "1.50", "2.00"),
    # --- Embeddings (input only) --------------------------------------------------------
    _price("text-embedding-3-small", "0.02", "0", service_tiers=[_tier("batch", "0.01", "0")]),
    _price("text-embedding-3-large", "0.13", "0", service_tiers=[_tier("batch", "0.065", "0")]),
    # The API returns the model name "text-embedding-ada-002-v2", which no suffix rule strips.
    _price(
        "text-embedding-ada-002",
        "0.10",
        "0",
        aliases=["text-embedding-ada-002-v2"],
        service_tiers=[_tier("batch", "0.05", "0")],
    ),
)

TABLE: Final = StaticPriceTable(SOURCE, PRICES)
"""The pricing source this plugin registers."""
