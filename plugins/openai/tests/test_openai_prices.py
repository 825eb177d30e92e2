"""The OpenAI price table: model-name resolution, price history and service tiers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costkit import ModelPrice, PricingError, Usage
from costkit.pricing import PricingChain
from costkit_openai._prices import PRICES, SOURCE, TABLE

CHAIN = PricingChain([TABLE])

REQUIRED_MODELS = [
    "gpt-4o",
    "gpt-4o-2024-05-13",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o1",
    "o1-mini",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-3.5-turbo",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
]


def resolve(model: str, at: date | None = None) -> ModelPrice:
    price = CHAIN.resolve("openai", model, at=at)
    assert price is not None, f"{model} does not resolve"
    return price


class TestResolution:
    @pytest.mark.parametrize("model", REQUIRED_MODELS)
    def test_required_model_listed(self, model: str) -> None:
        """Each required model resolves to an entry of its own name."""
        assert resolve(model).model == model

    @pytest.mark.parametrize(
        ("name", "family"),
        [
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-2024-11-20", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
            ("o1-mini-2024-09-12", "o1-mini"),
            ("o3-mini-2025-01-31", "o3-mini"),
            ("gpt-5-2025-08-07", "gpt-5"),
            ("gpt-5-nano-2025-08-07", "gpt-5-nano"),
            ("gpt-5.2-2025-12-11", "gpt-5.2"),
            ("gpt-5.5-2026-04-23", "gpt-5.5"),
            ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
            ("text-embedding-ada-002-v2", "text-embedding-ada-002"),
            ("openai/gpt-4o", "gpt-4o"),
            ("GPT-4o-Mini", "gpt-4o-mini"),
        ],
    )
    def test_snapshot_resolves_to_family(self, name: str, family: str) -> None:
        """Dated, prefixed, upper-case and -v2 names resolve to the family entry."""
        assert resolve(name).model == family

    def test_own_priced_snapshot(self) -> None:
        """gpt-4o-2024-05-13 keeps its own, higher price instead of the family's."""
        snapshot = resolve("gpt-4o-2024-05-13")
        family = resolve("gpt-4o")
        assert snapshot.input == Decimal("5.00")
        assert snapshot.output == Decimal("15.00")
        assert family.input == Decimal("2.50")

    def test_unknown_model(self) -> None:
        """A model the table does not list resolves to nothing."""
        assert CHAIN.resolve("openai", "gpt-unknown-9") is None

    def test_other_provider(self) -> None:
        """The table returns prices for the openai provider only."""
        assert CHAIN.resolve("xai", "gpt-4o") is None


class TestTableContents:
    def test_every_price_has_source(self) -> None:
        """Every price names the table's source and its check date."""
        assert "checked 2026-12-04" in SOURCE
        assert all(price.source == SOURCE for price in PRICES)
        assert TABLE.name == SOURCE

    def test_every_price_is_openai_usd(self) -> None:
        """Every price is an openai price in USD."""
        assert {price.provider for price in PRICES} == {"openai"}
        assert {price.currency for price in PRICES} == {"USD"}

    def test_cached_never_dearer(self) -> None:
        """A cached input rate never exceeds the uncached rate, in any service tier."""
        for price in PRICES:
            if price.cached_input is not None:
                assert price.cached_input <= price.input, price.model
            for tier in price.service_tiers:
                if tier.cached_input is not None and tier.input is not None:
                    assert tier.cached_input <= tier.input, (price.model, tier.name)

    def test_rates_are_decimal(self) -> None:
        """Rates are Decimals, never floats."""
        for price in PRICES:
            assert isinstance(price.input, Decimal), price.model
            assert isinstance(price.output, Decimal), price.model


class TestO3PriceCut:
    def test_before_cut(self) -> None:
        """Requests before 2025-06-10 use the launch price of o3."""
        price = resolve("o3", at=date(2025, 6, 9))
        assert price.input == Decimal("10.00")
        assert price.output == Decimal("40.00")

    def test_from_cut(self) -> None:
        """Requests from 2025-06-10 use the cut price of o3."""
        price = resolve("o3", at=date(2025, 6, 10))
        assert price.input == Decimal("2.00")
        assert price.output == Decimal("8.00")

    def test_history_is_contiguous(self) -> None:
        """The two o3 prices meet on the day of the cut, without gap or overlap."""
        history = [price for price in PRICES if price.model == "o3"]
        launch = [price for price in history if price.effective_from is None]
        current = [price for price in history if price.effective_to is None]
        assert len(history) == 2
        assert len(launch) == 1
        assert len(current) == 1
        assert launch[0].effective_to == date(2025, 6, 10)
        assert current[0].effective_from == date(2025, 6, 10)


class TestCosts:
    def test_cached_and_reasoning(self) -> None:
        """gpt-5-nano bills cached input, text output and reasoning at their own rates."""
        usage = Usage(input_tokens=1982, cached_input_tokens=1664, output_tokens=3249, reasoning_tokens=2240)
        cost = resolve("gpt-5-nano-2025-08-07").calculate(usage)
        expected = (Decimal("0.05") * 318 + Decimal("0.005") * 1664 + Decimal("0.40") * 3249) / 1_000_000
        assert cost.total == expected

    def test_flex_tier(self) -> None:
        """The flex service tier halves gpt-5 rates."""
        usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
        standard = resolve("gpt-5").calculate(usage)
        flex = resolve("gpt-5").calculate(usage, service_tier="flex")
        assert standard.total == Decimal("11.25")
        assert flex.total == Decimal("5.625")

    def test_priority_tier(self) -> None:
        """The priority service tier bills gpt-4.1 at its priority rates."""
        usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
        cost = resolve("gpt-4.1").calculate(usage, service_tier="priority")
        assert cost.total == Decimal("17.50")

    def test_batch_embeddings(self) -> None:
        """Batch embeddings cost half the standard rate."""
        usage = Usage(input_tokens=1_000_000)
        cost = resolve("text-embedding-3-small").calculate(usage, service_tier="batch")
        assert cost.total == Decimal("0.01")

    def test_unlisted_tier(self) -> None:
        """A service tier a model does not list raises PricingError naming the known tiers."""
        with pytest.raises(PricingError, match="'batch'"):
            resolve("gpt-5-nano").calculate(Usage(input_tokens=1), service_tier="priority")

    def test_long_context_tier(self) -> None:
        """gpt-5.4 bills a prompt above 272K tokens at 2x input and 1.5x output."""
        short = resolve("gpt-5.4").calculate(Usage(input_tokens=272_000, output_tokens=1_000_000))
        long = resolve("gpt-5.4").calculate(Usage(input_tokens=272_001, output_tokens=1_000_000))
        assert short.total == Decimal("2.50") * Decimal("0.272") + Decimal("15.00")
        assert long.total == Decimal("5.00") * Decimal("0.272001") + Decimal("22.50")

    def test_audio_rates(self) -> None:
        """Audio tokens of gpt-4o-audio-preview are billed at the audio rates."""
        usage = Usage(input_tokens=64, audio_input_tokens=44, output_tokens=9)
        cost = resolve("gpt-4o-audio-preview-2024-12-17").calculate(usage)
        assert cost.audio_input == Decimal("40.00") * 44 / 1_000_000
        assert cost.input == Decimal("2.50") * 20 / 1_000_000
