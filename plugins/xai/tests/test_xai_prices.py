"""Tests of the xAI price table: name resolution, tiers and the exact match with xAI's bills."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costkit import PriceNotFoundError, Usage, extract_usage
from costkit.plugin.manager import PluginManager
from costkit.pricing import PricingChain
from costkit.testing import expected_usage
from costkit_xai import TABLE
from costkit_xai._prices import SOURCE


@pytest.fixture
def chain() -> PricingChain:
    """A pricing chain with only the xAI table."""
    return PricingChain([TABLE])


class TestResolution:
    """Model names resolve to the right price."""

    @pytest.mark.parametrize(
        ("name", "model"),
        [
            ("grok-4", "grok-4-0709"),
            ("grok-4-0709", "grok-4-0709"),
            ("grok-4-latest", "grok-4-0709"),
            ("xai/grok-4", "grok-4-0709"),
            ("grok-4-fast", "grok-4-fast-reasoning"),
            ("grok-4-fast-reasoning", "grok-4-fast-reasoning"),
            ("grok-4-fast-non-reasoning", "grok-4-fast-non-reasoning"),
            ("grok-4-fast-non-reasoning-latest", "grok-4-fast-non-reasoning"),
            ("grok-4-1-fast-reasoning", "grok-4-1-fast-reasoning"),
            ("grok-4-1-fast-non-reasoning", "grok-4-1-fast-non-reasoning"),
            ("grok-4.3", "grok-4.3"),
            ("grok-4.3-latest", "grok-4.3"),
            ("grok-3", "grok-3"),
            ("grok-3-beta", "grok-3"),
            ("grok-3-latest", "grok-3"),
            ("grok-3-fast", "grok-3-fast"),
            ("grok-3-mini", "grok-3-mini"),
            ("grok-3-mini-beta", "grok-3-mini"),
            ("grok-3-mini-high", "grok-3-mini"),
            ("grok-3-mini-low", "grok-3-mini"),
            ("GROK-3-MINI-HIGH", "grok-3-mini"),
            ("grok-3-mini-fast-high", "grok-3-mini-fast"),
            ("grok-code-fast-1", "grok-code-fast-1"),
            ("grok-code-fast-1-0825", "grok-code-fast-1"),
            ("grok-code-fast", "grok-code-fast-1"),
            ("grok-2-vision-1212", "grok-2-vision-1212"),
            ("grok-2-vision", "grok-2-vision-1212"),
            ("grok-2-vision-latest", "grok-2-vision-1212"),
        ],
    )
    def test_name_resolves(self, chain: PricingChain, name: str, model: str) -> None:
        """Each published name, alias and reasoning-effort name finds its model's price."""
        price = chain.resolve("xai", name)
        assert price is not None, name
        assert price.model == model

    def test_unknown_model_raises(self, chain: PricingChain) -> None:
        """A model the table does not list is never priced at 0."""
        with pytest.raises(PriceNotFoundError):
            chain.calculate("xai", "grok-99", Usage(input_tokens=1, output_tokens=1))

    def test_other_provider_not_priced(self, chain: PricingChain) -> None:
        """The table prices models of the xai provider only."""
        assert chain.resolve("openai", "grok-4") is None

    def test_every_price_names_its_source(self) -> None:
        """Every price carries the table's source and date."""
        assert TABLE.name == SOURCE
        for price in TABLE.prices:
            assert price.source == SOURCE, price.model
            assert price.provider == "xai", price.model

    def test_source_states_date_checked(self) -> None:
        """The source string names where the rates come from and when they were checked."""
        assert "docs.x.ai" in SOURCE
        assert "checked 20" in SOURCE


class TestRates:
    """The arithmetic of published rates."""

    def test_grok_4_base_rates(self, chain: PricingChain) -> None:
        """grok-4 below 128K: 3.00 input, 0.75 cached, 15.00 output per million."""
        usage = Usage(input_tokens=100_000, cached_input_tokens=40_000, output_tokens=10_000)
        cost = chain.calculate("xai", "grok-4", usage)
        assert cost.input == Decimal("0.18")
        assert cost.cached_input == Decimal("0.03")
        assert cost.output == Decimal("0.15")

    def test_grok_4_long_context_tier(self, chain: PricingChain) -> None:
        """A grok-4 prompt above 128,000 tokens is billed at 6.00 input and 30.00 output."""
        usage = Usage(input_tokens=128_001, output_tokens=1_000)
        cost = chain.calculate("xai", "grok-4-0709", usage)
        assert cost.input == Decimal("6.00") * 128_001 / 1_000_000
        assert cost.output == Decimal("30.00") * 1_000 / 1_000_000

    def test_grok_4_tier_threshold_exclusive(self, chain: PricingChain) -> None:
        """A prompt of exactly 128,000 tokens stays at the base rates."""
        cost = chain.calculate("xai", "grok-4", Usage(input_tokens=128_000, output_tokens=0))
        assert cost.total == Decimal("3.00") * 128_000 / 1_000_000

    def test_reasoning_billed_as_output(self, chain: PricingChain) -> None:
        """grok-3-mini reasoning tokens cost the output rate."""
        usage = Usage(input_tokens=0, output_tokens=1_000_000, reasoning_tokens=600_000)
        cost = chain.calculate("xai", "grok-3-mini", usage)
        assert cost.total == Decimal("0.50")

    def test_image_tokens_billed_as_input(self, chain: PricingChain) -> None:
        """grok-2-vision image prompt tokens cost the text input rate."""
        usage = Usage(input_tokens=1_000_000, image_input_tokens=400_000, output_tokens=0)
        cost = chain.calculate("xai", "grok-2-vision-1212", usage)
        assert cost.total == Decimal("2.00")

    def test_rates_are_decimal(self) -> None:
        """Every rate in the table is a Decimal."""
        for price in TABLE.prices:
            assert isinstance(price.input, Decimal), price.model
            assert isinstance(price.output, Decimal), price.model


class TestRecordedBills:
    """Our cost equals the charge xAI stated in cost_in_usd_ticks, to the last tick."""

    def test_every_bill_matches_exactly(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """For every recorded xAI response, the computed cost equals the billed ticks."""
        chain = PricingChain([TABLE])
        table = expected_usage()
        names = sorted(name for name in table if name.startswith("xai-") and table[name]["usage"])
        models = set()
        for name in names:
            usage = extract_usage("xai", (recorded_payloads / name).read_bytes(), plugins=xai_manager)
            assert usage is not None
            billed = Decimal(table[name]["usage"]["provider_reported_cost_usd"])
            cost = chain.calculate("xai", table[name]["model"], usage)
            assert cost.total == billed, name
            assert cost.difference == 0, name
            models.add(cost.model)
        assert {"grok-3-mini", "grok-4-fast-non-reasoning", "grok-2-vision-1212", "grok-4.3"} <= models

    def test_image_bill_matches(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """The cached image body (256 image tokens) is billed as text input: 0.0000917 USD."""
        body = (recorded_payloads / "xai-chat-completions-image-cached-01.json").read_bytes()
        usage = extract_usage("xai", body, plugins=xai_manager)
        assert usage is not None
        cost = PricingChain([TABLE]).calculate("xai", "grok-4-fast-non-reasoning", usage)
        assert cost.total == Decimal("0.0000917")
        assert cost.image_input == 0
