"""Tests of the Usage model and its validation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from strategies import usages

from costkit import Usage, UsageError
from costkit._convert import structure, unstructure


class TestUsageValidation:
    @pytest.mark.parametrize("bad", [-1, 1.0, 2.5, "10", True, False, None, Decimal(3)])
    def test_rejects_bad_count(self, bad: object) -> None:
        """A count that is not a non-negative int raises UsageError naming the field."""
        with pytest.raises(UsageError, match="input_tokens"):
            Usage(input_tokens=bad)  # type: ignore[arg-type]

    def test_rejects_absurd_count(self) -> None:
        """A count above the per-request maximum is a unit mistake."""
        with pytest.raises(UsageError, match="maximum"):
            Usage(output_tokens=10**11)

    def test_rejects_cached_above_input(self) -> None:
        """Cached tokens are a subset of input tokens."""
        with pytest.raises(UsageError, match=r"cached_input_tokens \(11\)"):
            Usage(input_tokens=10, cached_input_tokens=11)

    def test_rejects_cache_reads_and_writes_above_input(self) -> None:
        """Cache reads plus cache writes cannot exceed the input."""
        with pytest.raises(UsageError, match="cache_write_tokens"):
            Usage(input_tokens=10, cached_input_tokens=6, cache_write_tokens=5)

    def test_rejects_reasoning_above_output(self) -> None:
        """Reasoning tokens are a subset of output tokens."""
        with pytest.raises(UsageError, match=r"reasoning_tokens \(5\) exceed output_tokens \(4\)"):
            Usage(output_tokens=4, reasoning_tokens=5)

    def test_rejects_negative_reported_cost(self) -> None:
        """A provider-reported cost must be a non-negative Decimal."""
        with pytest.raises(UsageError, match="provider_reported_cost"):
            Usage(provider_reported_cost=Decimal("-1"))

    def test_rejects_float_reported_cost(self) -> None:
        """Floats are not exact, so a reported cost must be a Decimal."""
        with pytest.raises(UsageError, match="provider_reported_cost"):
            Usage(provider_reported_cost=0.1)  # type: ignore[arg-type]

    def test_error_is_a_value_error(self) -> None:
        """UsageError is also a ValueError, for callers that catch those."""
        with pytest.raises(ValueError):
            Usage(input_tokens=-5)


class TestUsageArithmetic:
    def test_addition_sums_every_count(self) -> None:
        """Adding usages adds each count."""
        total = Usage(input_tokens=10, cached_input_tokens=4, output_tokens=3) + Usage(
            input_tokens=1, output_tokens=2, reasoning_tokens=1
        )
        assert total.input_tokens == 11
        assert total.cached_input_tokens == 4
        assert total.output_tokens == 5
        assert total.reasoning_tokens == 1

    def test_total_tokens(self) -> None:
        """total_tokens is input plus output."""
        assert Usage(input_tokens=7, output_tokens=5).total_tokens == 12

    def test_estimated_flag_is_kept_by_addition(self) -> None:
        """A sum with an estimated part is estimated."""
        total = Usage(input_tokens=1) + Usage(input_tokens=1, estimated=True)
        assert total.estimated is True


@given(usages())
def test_usage_round_trips_through_json(usage: Usage) -> None:
    """The cattrs converter turns a Usage into JSON-ready data and back unchanged."""
    assert structure(unstructure(usage), Usage) == usage
