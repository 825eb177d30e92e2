"""The static price table of xAI's Grok models.

Rates are USD per million tokens, from xAI's models and pricing page (docs.x.ai/developers/models
and the per-model pages under docs.x.ai/docs/models), cross-checked against the pydantic/genai-prices
table (prices/providers/x_ai.yml). Every rate used by a recorded response was also checked
against the charge xAI stated for it in ``cost_in_usd_ticks``. For example, three grok-4.3 bills
(71 uncached + 128 cached input and 184 output tokens = 5,743,500 ticks; 71 + 128 and 160 =
5,143,500; 204 + 192 and 240 = 8,934,000) solve to exactly 1.25 input, 0.20 cached and 2.50 output.

How xAI bills, as the recorded charges show:

- Reasoning tokens are billed at the output rate.
- Cached prompt tokens are billed at the cached rate and the rest of the prompt at the input rate.
- Image prompt tokens (``prompt_tokens_details.image_tokens``) are ordinary prompt tokens. They are
  billed at the input rate, or at the cached rate when served from the cache, so no price here sets
  an ``image_input`` rate. grok-2-vision-1212 lists its image input at 2.00, the same as its text
  input: 15 text + 256 image prompt tokens and 57 output tokens cost (271 x 2.00 + 57 x 10.00) / 10^6
  = 0.001112 USD, the stated 11,120,000 ticks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from costkit import ModelPrice, PriceTier
from costkit.pricing import StaticPriceTable

__all__ = ["PRICES", "SOURCE", "TABLE"]

SOURCE: Final = "costkit-xai price table (docs.x.ai/developers/models, checked 2026-12-04)"
"""The provenance every price in the table carries."""

_PROVIDER: Final = "xai"

# Names that responses report for a reasoning effort, such as grok-3-mini-high. costkit's generic
# name rules drop -latest, -beta and date suffixes, but not these.
_EFFORT_SUFFIXES: Final = ("-high", "-low")


def _price(
    model: str,
    *,
    input: str,
    output: str,
    cached_input: str | None = None,
    aliases: tuple[str, ...] = (),
    tiers: tuple[PriceTier, ...] = (),
) -> ModelPrice:
    return ModelPrice(
        provider=_PROVIDER,
        model=model,
        input=input,
        output=output,
        cached_input=None if cached_input is None else Decimal(cached_input),
        aliases=aliases,
        tiers=tiers,
        source=SOURCE,
    )


def _with_efforts(model: str) -> tuple[str, ...]:
    return tuple(model + suffix for suffix in _EFFORT_SUFFIXES)


PRICES: Final = (
    # NOTE: the 6.00 input and 30.00 output rates above 128K tokens come from OpenRouter's grok-4
    # page and third-party guides, because xAI's own grok-4 page was not available to check. None of
    # them states a cached rate above 128K, so the tier keeps the 0.75 base rate. OpenRouter counts
    # the request's total tokens toward 128K, while costkit tiers count prompt tokens only.
    _price(
        "grok-4-0709",
        aliases=("grok-4",),
        input="3.00",
        cached_input="0.75",
        output="15.00",
        tiers=(PriceTier(threshold=128_000, inclusive=False, input=Decimal("6.00"), output=Decimal("30.00")),),
    ),
    # No source we could open lists a long-context tier for grok-4-fast, so these prices have none.
    _price(
        "grok-4-fast-reasoning",
        aliases=("grok-4-fast",),
        input="0.20",
        cached_input="0.05",
        output="0.50",
    ),
    _price("grok-4-fast-non-reasoning", input="0.20", cached_input="0.05", output="0.50"),
    _price(
        "grok-4-1-fast-reasoning",
        aliases=("grok-4-1-fast",),
        input="0.20",
        cached_input="0.05",
        output="0.50",
    ),
    _price("grok-4-1-fast-non-reasoning", input="0.20", cached_input="0.05", output="0.50"),
    # TODO: add the tier for grok-4.3 prompts above 200K tokens once xAI publishes its rates. The
    # model page states that such requests cost more but gives no figure.
    _price("grok-4.3", input="1.25", cached_input="0.20", output="2.50"),
    _price("grok-3", input="3.00", cached_input="0.75", output="15.00"),
    _price("grok-3-fast", input="5.00", cached_input="1.25", output="25.00"),
    _price("grok-3-mini", aliases=_with_efforts("grok-3-mini"), input="0.30", cached_input="0.075", output="0.50"),
    _price(
        "grok-3-mini-fast",
        aliases=_with_efforts("grok-3-mini-fast"),
        input="0.60",
        cached_input="0.15",
        output="4.00",
    ),
    _price("grok-code-fast-1", aliases=("grok-code-fast",), input="0.20", cached_input="0.02", output="1.50"),
    # xAI publishes no cached rate for grok-2-vision-1212, so cached tokens are billed at the input rate.
    _price("grok-2-vision-1212", aliases=("grok-2-vision",), input="2.00", output="10.00"),
)
"""Every price in the table."""

TABLE: Final = StaticPriceTable(SOURCE, PRICES)
"""The pricing source the plugin registers."""
