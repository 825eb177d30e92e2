"""Hypothesis strategies shared by the tests, and the test profiles."""

from __future__ import annotations

import os
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from costkit import ModelPrice, PriceTier, Usage

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("fast", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("COSTKIT_HYPOTHESIS_PROFILE", "default"))

counts = st.integers(min_value=0, max_value=2_000_000)

rates = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("200"), places=6).filter(lambda rate: rate > 0)
optional_rates = st.none() | rates


@st.composite
def usages(draw: st.DrawFn, max_tokens: int = 2_000_000) -> Usage:
    """A valid Usage: cached and cache writes within input, reasoning within output."""
    input_tokens = draw(st.integers(0, max_tokens))
    cached = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cached))
    output_tokens = draw(st.integers(0, max_tokens))
    reasoning = draw(st.integers(0, output_tokens))
    return Usage(
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=cache_write,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
    )


@st.composite
def prices(draw: st.DrawFn, with_tiers: bool = True) -> ModelPrice:
    """A ModelPrice with random rates and, optionally, one prompt-length tier."""
    tiers = []
    if with_tiers and draw(st.booleans()):
        tiers.append(
            PriceTier(
                threshold=draw(st.integers(1, 1_000_000)),
                inclusive=draw(st.booleans()),
                input=draw(rates),
                cached_input=draw(optional_rates),
                output=draw(rates),
            )
        )
    return ModelPrice(
        provider="test",
        model="model",
        input=draw(rates),
        output=draw(rates),
        cached_input=draw(optional_rates),
        cache_write=draw(optional_rates),
        reasoning=draw(optional_rates),
        tiers=tiers,
    )
