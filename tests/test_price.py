"""Tests of ModelPrice.calculate: the exact cost math."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import prices, rates, usages

from costkit import ModelPrice, PriceTier, PricingError, ServiceTierPrice, Usage, UsageError
from costkit._convert import structure, unstructure

MILLION = Decimal(1_000_000)


def reference_cost(price: ModelPrice, usage: Usage) -> Decimal:
    """An independent formula: each token class times its rate, divided by a million."""
    tier = None
    for candidate in price.tiers:
        hit = (
            usage.input_tokens >= candidate.threshold
            if candidate.inclusive
            else usage.input_tokens > candidate.threshold
        )
        if hit:
            tier = candidate

    def rate(name: str, fallback: Decimal) -> Decimal:
        for layer in (tier, price):
            value = getattr(layer, name, None) if layer is not None else None
            if value is not None:
                return value
        return fallback

    input_rate = rate("input", Decimal(0))
    output_rate = rate("output", Decimal(0))
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
    total = (
        uncached * input_rate
        + usage.cached_input_tokens * rate("cached_input", input_rate)
        + usage.cache_write_tokens * rate("cache_write", input_rate)
        + (usage.output_tokens - usage.reasoning_tokens) * output_rate
        + usage.reasoning_tokens * rate("reasoning", output_rate)
    )
    return total / MILLION


class TestCalculateExamples:
    def test_one_token_at_a_small_rate(self) -> None:
        """One input token at 0.075 per million costs exactly 0.000000075."""
        price = ModelPrice(provider="p", model="m", input=Decimal("0.075"), output=Decimal("0.30"))
        assert price.calculate(Usage(input_tokens=1, output_tokens=0)).total == Decimal("0.000000075")

    def test_components_are_billed_once(self) -> None:
        """Cached input, uncached input, output and reasoning each get their own rate."""
        price = ModelPrice(provider="p", model="m", input="2.50", cached_input="1.25", output="10", reasoning="12")
        usage = Usage(input_tokens=1000, cached_input_tokens=400, output_tokens=300, reasoning_tokens=100)
        cost = price.calculate(usage)
        assert cost.input == Decimal("0.0015")
        assert cost.cached_input == Decimal("0.0005")
        assert cost.output == Decimal("0.002")
        assert cost.reasoning == Decimal("0.0012")
        assert cost.total == Decimal("0.0052")

    def test_reasoning_defaults_to_output_rate(self) -> None:
        """Without a reasoning rate, reasoning tokens cost the output rate."""
        price = ModelPrice(provider="p", model="m", input="1", output="4")
        cost = price.calculate(Usage(output_tokens=10, reasoning_tokens=6))
        assert cost.reasoning == Decimal("0.000024")
        assert cost.output == Decimal("0.000016")

    def test_cache_write_rate(self) -> None:
        """Cache writes are billed at their own rate, and not again as input."""
        price = ModelPrice(provider="p", model="m", input="3", cache_write="3.75", output="15")
        cost = price.calculate(Usage(input_tokens=1000, cache_write_tokens=800))
        assert cost.cache_write == Decimal("0.003")
        assert cost.input == Decimal("0.0006")

    def test_audio_input_rate(self) -> None:
        """Audio input tokens with a rate of their own leave the text rate."""
        price = ModelPrice(provider="p", model="m", input="0.30", audio_input="1.00", output="2.50")
        cost = price.calculate(Usage(input_tokens=100, audio_input_tokens=60))
        assert cost.audio_input == Decimal("0.00006")
        assert cost.input == Decimal("0.000012")

    def test_free_price_costs_zero(self) -> None:
        """A free price gives exactly 0, marked free."""
        cost = ModelPrice(provider="ollama", model="llama3", free=True).calculate(Usage(input_tokens=5))
        assert cost.total == 0
        assert cost.free is True
        assert cost.unpriced is False

    def test_provider_reported_difference(self) -> None:
        """The breakdown shows the reported charge and the difference to ours."""
        price = ModelPrice(provider="p", model="m", input="1", output="1")
        cost = price.calculate(Usage(input_tokens=10, provider_reported_cost=Decimal("0.000011")))
        assert cost.provider_reported == Decimal("0.000011")
        assert cost.difference == Decimal("-0.000001")


class TestTiers:
    price = ModelPrice(
        provider="gemini",
        model="pro",
        input="1.25",
        cached_input="0.31",
        output="10",
        tiers=[PriceTier(threshold=200_000, inclusive=False, input="2.50", cached_input="0.625", output="15")],
    )

    def test_threshold_itself_stays_on_base_rate(self) -> None:
        """An exclusive tier does not apply at exactly its threshold."""
        cost = self.price.calculate(Usage(input_tokens=200_000, output_tokens=1))
        assert cost.total == Decimal("0.25001")

    def test_one_above_threshold_moves_every_class(self) -> None:
        """Above the threshold every token class, cached included, takes the tier rate."""
        usage = Usage(input_tokens=200_001, cached_input_tokens=100_000, output_tokens=1000)
        cost = self.price.calculate(usage)
        assert cost.input == Decimal("0.2500025")
        assert cost.cached_input == Decimal("0.0625")
        assert cost.output == Decimal("0.015")

    def test_inclusive_tier_applies_at_threshold(self) -> None:
        """An inclusive tier applies from exactly its threshold."""
        price = attrs.evolve(self.price, tiers=[PriceTier(threshold=200_000, inclusive=True, input="2.50")])
        assert price.calculate(Usage(input_tokens=200_000)).input == Decimal("0.5")
        assert price.calculate(Usage(input_tokens=199_999)).input == Decimal("0.24999875")


class TestServiceTiers:
    price = ModelPrice(
        provider="openai",
        model="m",
        input="2",
        output="8",
        service_tiers=[ServiceTierPrice(name="flex", input="1", output="4")],
    )

    def test_service_tier_rates_apply(self) -> None:
        """A request on the flex tier is billed at the flex rates."""
        assert self.price.calculate(Usage(input_tokens=1_000_000), service_tier="flex").total == Decimal(1)

    def test_default_service_tier_uses_base_rates(self) -> None:
        """The default tier uses the base rates."""
        assert self.price.calculate(Usage(input_tokens=1_000_000), service_tier="default").total == Decimal(2)

    def test_service_tier_has_its_own_prompt_tiers(self) -> None:
        """A flex request above the threshold takes the flex tier rate, not the standard long-context one."""
        price = ModelPrice(
            provider="openai",
            model="long",
            input="2",
            output="8",
            tiers=[PriceTier(threshold=272_000, input="4", output="16")],
            service_tiers=[
                ServiceTierPrice(name="flex", input="1", output="4", tiers=[PriceTier(threshold=272_000, input="2")])
            ],
        )
        usage = Usage(input_tokens=1_000_000)
        assert price.calculate(usage).total == Decimal(4)
        assert price.calculate(usage, service_tier="flex").total == Decimal(2)

    def test_unknown_service_tier_names_known_ones(self) -> None:
        """An unknown service tier raises, listing the known ones."""
        with pytest.raises(PricingError, match="'flex'"):
            self.price.calculate(Usage(input_tokens=1), service_tier="priority")


class TestEffectiveRange:
    price = ModelPrice(
        provider="p", model="m", input="1", effective_from=date(2025, 6, 10), effective_to=date(2026, 1, 1)
    )

    def test_in_force_inside_range(self) -> None:
        """A price is in force from its first day up to, not including, its end."""
        assert self.price.in_force(datetime(2025, 6, 10, tzinfo=timezone.utc))
        assert self.price.in_force(datetime(2025, 12, 31, 23, 59, tzinfo=timezone.utc))

    def test_not_in_force_outside_range(self) -> None:
        """A price is not in force before its start or from its end on."""
        assert not self.price.in_force(datetime(2025, 6, 9, 23, 59, tzinfo=timezone.utc))
        assert not self.price.in_force(datetime(2026, 1, 1, tzinfo=timezone.utc))

    def test_calculate_at_outside_range_raises(self) -> None:
        """Computing with a price outside its range is refused."""
        with pytest.raises(PricingError, match="in force"):
            self.price.calculate(Usage(input_tokens=1), at=date(2024, 1, 1))


class TestPriceValidation:
    def test_rejects_negative_rate(self) -> None:
        """A negative rate is invalid."""
        with pytest.raises(PricingError, match=r"ModelPrice.input"):
            ModelPrice(provider="p", model="m", input="-1")

    def test_rejects_float_rate(self) -> None:
        """A float rate is rejected with the exact spelling to use instead."""
        with pytest.raises(PricingError, match=r"Decimal\('2.5'\)"):
            ModelPrice(provider="p", model="m", input=2.5)  # type: ignore[arg-type]

    def test_rejects_per_token_rate(self) -> None:
        """A rate typed per token is caught by its magnitude, with the per-million figure."""
        with pytest.raises(PricingError, match=r"per-token rate; .* write 2.5"):
            ModelPrice(provider="p", model="m", input="0.0000025")

    def test_rejects_too_many_places(self) -> None:
        """A rate with more than six decimal places cannot be stored exactly."""
        with pytest.raises(PricingError, match="decimal places"):
            ModelPrice(provider="p", model="m", input="1.0000001")

    def test_rejects_free_price_with_rates(self) -> None:
        """A price cannot be free and charge rates at once."""
        with pytest.raises(PricingError, match="free but also sets rates"):
            ModelPrice(provider="p", model="m", input="3", free=True)

    def test_rejects_reversed_range(self) -> None:
        """effective_to must come after effective_from."""
        with pytest.raises(PricingError, match="effective_to"):
            ModelPrice(provider="p", model="m", effective_from="2025-01-02", effective_to="2025-01-01")

    def test_modalities_beyond_input_raise(self) -> None:
        """Audio input beyond the uncached input is an inconsistent usage."""
        price = ModelPrice(provider="p", model="m", input="1", audio_input="2")
        with pytest.raises(UsageError, match="audio"):
            price.calculate(Usage(input_tokens=10, cached_input_tokens=8, audio_input_tokens=5))


@given(prices(), usages())
def test_cost_is_never_negative(price: ModelPrice, usage: Usage) -> None:
    """Every cost is zero or more."""
    assert price.calculate(usage).total >= 0


@given(prices(), usages())
def test_cost_equals_reference_formula(price: ModelPrice, usage: Usage) -> None:
    """The cost equals an independent Decimal formula, exactly."""
    cost = price.calculate(usage)
    assert cost.total == reference_cost(price, usage)


@given(prices(), usages())
def test_components_sum_to_total(price: ModelPrice, usage: Usage) -> None:
    """The per-class amounts add up to the total."""
    cost = price.calculate(usage)
    parts = (cost.input, cost.cached_input, cost.cache_write, cost.output, cost.reasoning)
    assert sum(parts, Decimal(0)) == cost.total


@st.composite
def rising_tier_prices(draw: st.DrawFn) -> ModelPrice:
    """Prices whose tier rates are never below the base rates, as providers publish them."""
    base_input, base_output = draw(rates), draw(rates)
    tiers = []
    if draw(st.booleans()):
        tiers.append(
            PriceTier(
                threshold=draw(st.integers(1, 500_000)),
                inclusive=draw(st.booleans()),
                input=base_input + draw(rates),
                output=base_output + draw(rates),
            )
        )
    return ModelPrice(provider="p", model="m", input=base_input, output=base_output, tiers=tiers)


FIELDS_AND_CONTAINERS = [
    ("input_tokens", ()),
    ("cached_input_tokens", ("input_tokens",)),
    ("cache_write_tokens", ("input_tokens",)),
    ("output_tokens", ()),
    ("reasoning_tokens", ("output_tokens",)),
]


@pytest.mark.parametrize(("field", "containers"), FIELDS_AND_CONTAINERS)
@given(price=rising_tier_prices(), usage=usages(), extra=st.integers(1, 100_000))
def test_cost_is_monotone_in_every_count(
    field: str, containers: tuple[str, ...], price: ModelPrice, usage: Usage, extra: int
) -> None:
    """Adding tokens of any class (and to the totals that contain it) never lowers the cost."""
    changes = {name: getattr(usage, name) + extra for name in (field, *containers)}
    more = attrs.evolve(usage, **changes)
    assert price.calculate(more).total >= price.calculate(usage).total


@given(price=prices(with_tiers=False), first=usages(), second=usages())
def test_cost_is_additive_within_a_tier(price: ModelPrice, first: Usage, second: Usage) -> None:
    """Without a tier change, the cost of two usages together is the sum of their costs."""
    assert price.calculate(first).total + price.calculate(second).total == price.calculate(first + second).total


@given(price=prices(with_tiers=False), usage=usages(), moved=st.integers(1, 1_000_000))
def test_caching_never_raises_cost(price: ModelPrice, usage: Usage, moved: int) -> None:
    """Moving tokens from uncached to cached input never raises the cost when the cached rate is lower."""
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
    assume(uncached > 0)
    assume(price.cached_input is None or price.cached_input <= price.input)
    moved = min(moved, uncached)
    cached_more = attrs.evolve(usage, cached_input_tokens=usage.cached_input_tokens + moved)
    assert price.calculate(cached_more).total <= price.calculate(usage).total


@given(prices())
def test_price_round_trips_through_json(price: ModelPrice) -> None:
    """The cattrs converter turns a ModelPrice into JSON-ready data and back unchanged."""
    assert structure(unstructure(price), ModelPrice) == price


class TestPriceFromData:
    @pytest.mark.parametrize(
        ("field", "value"),
        [("free", "no"), ("input", True), ("model", 5), ("aliases", [1, 2])],
    )
    def test_wrong_type_is_rejected(self, field: str, value: object) -> None:
        """Structured price data of the wrong type is rejected instead of coerced."""
        data = {"provider": "openai", "model": "m", "input": "1", field: value}
        with pytest.raises(Exception, match="ModelPrice"):
            structure(data, ModelPrice)

    def test_single_alias_string_is_one_name(self) -> None:
        """A single alias given as a string is one name, not one name per letter."""
        price = structure({"provider": "openai", "model": "m", "aliases": "abc"}, ModelPrice)
        assert price.aliases == ("abc",)

    def test_empty_service_tier_name_is_rejected(self) -> None:
        """A service tier needs a name."""
        with pytest.raises(PricingError, match="ServiceTierPrice.name"):
            ServiceTierPrice(name=" ", input="1")
