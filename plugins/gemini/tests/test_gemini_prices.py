"""Tests of the Gemini price table: name resolution, tiers, history and modality rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from costkit import ModelPrice, Usage
from costkit.errors import PricingError
from costkit.pricing import PricingChain
from costkit_gemini import TABLE
from costkit_gemini._prices import PRICES, SOURCE


@pytest.fixture
def chain() -> PricingChain:
    """A pricing chain with only the Gemini table."""
    return PricingChain([TABLE])


def resolve(chain: PricingChain, model: str, at: date | None = None) -> ModelPrice:
    """Resolve a model name, failing the test when it has no price."""
    price = chain.resolve("gemini", model, at=at)
    assert price is not None, f"{model} has no price"
    return price


class TestTable:
    """The table as a whole."""

    def test_source_dated(self) -> None:
        """The table names its source and the date the rates were checked."""
        assert "ai.google.dev/gemini-api/docs/pricing" in SOURCE
        assert "checked 2026-12-04" in SOURCE
        assert TABLE.name == SOURCE

    def test_every_price_sourced(self) -> None:
        """Every price is a gemini price with the table's source."""
        for price in PRICES:
            assert price.provider == "gemini", price.model
            assert price.source == SOURCE, price.model
            assert price.currency == "USD", price.model

    def test_rates_are_decimal(self) -> None:
        """Rates are exact Decimals."""
        for price in PRICES:
            assert isinstance(price.input, Decimal), price.model
            assert isinstance(price.output, Decimal), price.model

    def test_cached_never_dearer(self) -> None:
        """Cached input is never dearer than uncached input, in every tier."""
        for price in PRICES:
            if price.cached_input is not None:
                assert price.cached_input <= price.input, price.model
            for tier in price.tiers:
                if tier.cached_input is not None and tier.input is not None:
                    assert tier.cached_input <= tier.input, price.model


class TestResolution:
    """Model names as they arrive resolve to the table's entries."""

    @pytest.mark.parametrize(
        ("name", "model"),
        [
            ("gemini-2.5-pro", "gemini-2.5-pro"),
            ("models/gemini-2.5-pro", "gemini-2.5-pro"),
            ("Models/Gemini-2.5-Pro", "gemini-2.5-pro"),
            ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"),
            ("gemini-2.5-flash-latest", "gemini-2.5-flash"),
            ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
            ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
            ("gemini-2.5-flash-preview-tts", "gemini-2.5-flash-preview-tts"),
            ("gemini-2.5-flash-image-preview", "gemini-2.5-flash-image"),
            ("gemini-2.0-flash-001", "gemini-2.0-flash"),
            ("gemini-2.0-flash-exp", "gemini-2.0-flash"),
            ("models/gemini-2.0-flash-lite", "gemini-2.0-flash-lite"),
            ("gemini-1.5-pro-latest", "gemini-1.5-pro"),
            ("gemini-1.5-flash-002", "gemini-1.5-flash"),
            ("gemini-1.5-flash-8b-latest", "gemini-1.5-flash-8b"),
            ("gemini-3-pro-preview", "gemini-3-pro-preview"),
            ("gemini-3-flash-preview", "gemini-3-flash-preview"),
            ("gemini-3.1-flash-lite-preview", "gemini-3.1-flash-lite"),
            ("gemini-3.1-flash-lite-image", "gemini-3.1-flash-lite-image"),
            ("gemini-3.5-flash", "gemini-3.5-flash"),
            ("gemini-3.6-flash", "gemini-3.6-flash"),
            ("text-embedding-004", "text-embedding-004"),
            ("models/gemini-embedding-001", "gemini-embedding-001"),
            ("gemini-embedding-2-preview", "gemini-embedding-2"),
        ],
    )
    def test_name_resolves(self, chain: PricingChain, name: str, model: str) -> None:
        """Prefixed, -latest, dated and aliased names find their family's price."""
        assert resolve(chain, name).model == model

    @pytest.mark.parametrize("name", ["gemini-flash-latest", "gemini-9-ultra", "gpt-4o"])
    def test_unknown_name(self, chain: PricingChain, name: str) -> None:
        """Names the table does not list resolve to nothing, never to a guess."""
        assert chain.resolve("gemini", name) is None

    def test_other_provider(self, chain: PricingChain) -> None:
        """The table only returns prices for the gemini provider."""
        assert chain.resolve("openai", "gemini-2.5-pro") is None


class TestPromptTiers:
    """The whole-request tier above 200,000 prompt tokens of Gemini 2.5 Pro."""

    def test_exactly_threshold_base(self, chain: PricingChain) -> None:
        """200,000 prompt tokens (cached included) stay on the base rates."""
        usage = Usage(input_tokens=200_000, cached_input_tokens=50_000, output_tokens=1_000, reasoning_tokens=400)
        cost = resolve(chain, "gemini-2.5-pro").calculate(usage)
        # 150,000 x $1.25 + 50,000 x $0.125 + 600 x $10 + 400 x $10, per million tokens.
        assert cost.input == Decimal("0.1875")
        assert cost.cached_input == Decimal("0.00625")
        assert cost.output == Decimal("0.006")
        assert cost.reasoning == Decimal("0.004")
        assert cost.total == Decimal("0.20375")

    def test_above_threshold_all_classes(self, chain: PricingChain) -> None:
        """200,001 prompt tokens move input, cached input and output to the higher rates."""
        usage = Usage(input_tokens=200_001, cached_input_tokens=50_000, output_tokens=1_000, reasoning_tokens=400)
        cost = resolve(chain, "gemini-2.5-pro").calculate(usage)
        # 150,001 x $2.50 + 50,000 x $0.25 + 600 x $15 + 400 x $15, per million tokens.
        assert cost.input == Decimal("0.3750025")
        assert cost.cached_input == Decimal("0.0125")
        assert cost.output == Decimal("0.009")
        assert cost.reasoning == Decimal("0.006")
        assert cost.total == Decimal("0.4025025")

    def test_cached_count_toward_threshold(self, chain: PricingChain) -> None:
        """Cached tokens count toward the threshold: a mostly cached long prompt is in the tier."""
        usage = Usage(input_tokens=250_000, cached_input_tokens=240_000)
        cost = resolve(chain, "gemini-2.5-pro").calculate(usage)
        # 10,000 x $2.50 + 240,000 x $0.25, per million tokens.
        assert cost.total == Decimal("0.085")

    def test_3_pro_tier(self, chain: PricingChain) -> None:
        """Gemini 3 Pro Preview has the same kind of tier at its own rates."""
        below = resolve(chain, "gemini-3-pro-preview").calculate(Usage(input_tokens=200_000, output_tokens=1_000))
        above = resolve(chain, "gemini-3-pro-preview").calculate(Usage(input_tokens=200_001, output_tokens=1_000))
        # 200,000 x $2 + 1,000 x $12; 200,001 x $4 + 1,000 x $18, per million tokens.
        assert below.total == Decimal("0.412")
        assert above.total == Decimal("0.818004")

    def test_1_5_pro_tier_at_128k(self, chain: PricingChain) -> None:
        """Gemini 1.5 Pro's tier starts above 128,000 prompt tokens."""
        price = resolve(chain, "gemini-1.5-pro", at=date(2025, 1, 1))
        below = price.calculate(Usage(input_tokens=128_000, output_tokens=100))
        above = price.calculate(Usage(input_tokens=128_001, output_tokens=100))
        # 128,000 x $1.25 + 100 x $5; 128,001 x $2.50 + 100 x $10, per million tokens.
        assert below.total == Decimal("0.1605")
        assert above.total == Decimal("0.3210025")

    def test_1_5_flash_tier_at_128k(self, chain: PricingChain) -> None:
        """Gemini 1.5 Flash's tier also raises the cached rate."""
        price = resolve(chain, "gemini-1.5-flash", at=date(2025, 1, 1))
        cost = price.calculate(Usage(input_tokens=200_000, cached_input_tokens=100_000))
        # 100,000 x $0.15 + 100,000 x $0.0375, per million tokens.
        assert cost.total == Decimal("0.01875")


class TestHistory:
    """Prices change on known dates; the one in force at the request time applies."""

    def test_1_5_pro_cut(self, chain: PricingChain) -> None:
        """Gemini 1.5 Pro costs $3.50 before 2024-10-01 and $1.25 from then."""
        assert resolve(chain, "gemini-1.5-pro", at=date(2024, 9, 30)).input == Decimal("3.5")
        assert resolve(chain, "gemini-1.5-pro", at=date(2024, 10, 1)).input == Decimal("1.25")

    def test_1_5_flash_cut(self, chain: PricingChain) -> None:
        """Gemini 1.5 Flash costs $0.35 before 2024-08-12 and $0.075 from then."""
        assert resolve(chain, "gemini-1.5-flash-001", at=date(2024, 8, 11)).input == Decimal("0.35")
        assert resolve(chain, "gemini-1.5-flash-001", at=date(2024, 8, 12)).input == Decimal("0.075")

    def test_3_6_flash_introductory(self, chain: PricingChain) -> None:
        """Gemini 3.6 Flash's introductory rates end on 2027-01-01."""
        assert resolve(chain, "gemini-3.6-flash", at=date(2026, 12, 31)).output == Decimal("3.75")
        assert resolve(chain, "gemini-3.6-flash", at=date(2027, 1, 1)).output == Decimal("7.5")


class TestModalityRates:
    """Audio and image tokens priced at their own rates."""

    def test_2_5_flash_audio(self, chain: PricingChain) -> None:
        """Gemini 2.5 Flash bills audio input at $1.00 instead of $0.30."""
        cost = resolve(chain, "gemini-2.5-flash").calculate(Usage(input_tokens=1_000, audio_input_tokens=400))
        # 600 x $0.30 + 400 x $1.00, per million tokens.
        assert cost.input == Decimal("0.00018")
        assert cost.audio_input == Decimal("0.0004")
        assert cost.total == Decimal("0.00058")

    def test_2_0_flash_audio(self, chain: PricingChain) -> None:
        """Gemini 2.0 Flash bills audio input at $0.70 instead of $0.10."""
        cost = resolve(chain, "gemini-2.0-flash").calculate(Usage(input_tokens=1_000, audio_input_tokens=1_000))
        assert cost.total == Decimal("0.0007")

    def test_2_5_pro_audio_as_text(self, chain: PricingChain) -> None:
        """Models without an audio rate bill audio input as text."""
        cost = resolve(chain, "gemini-2.5-pro").calculate(Usage(input_tokens=1_000, audio_input_tokens=1_000))
        assert cost.total == Decimal("0.00125")

    def test_image_output(self, chain: PricingChain) -> None:
        """Image output of Gemini 2.5 Flash Image costs $30 per million tokens."""
        usage = Usage(input_tokens=5, output_tokens=1_300, image_output_tokens=1_290)
        cost = resolve(chain, "gemini-2.5-flash-image").calculate(usage)
        # 5 x $0.30 + 10 x $2.50 + 1,290 x $30, per million tokens.
        assert cost.image_output == Decimal("0.0387")
        assert cost.total == Decimal("0.0387265")

    def test_embedding_input_only(self, chain: PricingChain) -> None:
        """gemini-embedding-001 bills input at $0.15 per million tokens."""
        cost = resolve(chain, "gemini-embedding-001").calculate(Usage(input_tokens=4))
        assert cost.total == Decimal("6E-7")

    def test_text_embedding_004_free(self, chain: PricingChain) -> None:
        """text-embedding-004 is free by declaration."""
        cost = resolve(chain, "text-embedding-004").calculate(Usage(input_tokens=1_000))
        assert cost.free is True
        assert cost.total == 0


class TestServiceTiers:
    """Batch rates where the table lists them."""

    def test_batch_halves(self, chain: PricingChain) -> None:
        """Batch requests to Gemini 2.5 Flash cost half, cache reads excepted."""
        usage = Usage(input_tokens=1_000, cached_input_tokens=500, output_tokens=100)
        cost = resolve(chain, "gemini-2.5-flash").calculate(usage, service_tier="batch")
        # 500 x $0.15 + 500 x $0.03 + 100 x $1.25, per million tokens.
        assert cost.total == Decimal("0.000215")

    def test_tiered_model_no_batch(self, chain: PricingChain) -> None:
        """Models with a prompt-length tier have no batch rates and raise PricingError."""
        with pytest.raises(PricingError, match="batch"):
            resolve(chain, "gemini-2.5-pro").calculate(Usage(input_tokens=10), service_tier="batch")
