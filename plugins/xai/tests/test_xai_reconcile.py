"""Tests of the comparison between our cost and the charge xAI stated."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

import costkit_xai
from costkit import CostBreakdown, CostCalculated, Request, Response, Usage
from costkit.plugin.manager import PluginManager
from costkit.pricing import PricingChain
from costkit_xai import TABLE, reconcile


def billed_usage(reported: Decimal | None) -> Usage:
    """Return a grok-3-mini usage that costs 0.00228855 USD, with ``reported`` as xAI's charge.

    48 uncached and 2 cached input tokens and 4548 output tokens: 48 x 0.30 + 2 x 0.075 + 4548 x 0.50
    = 2288.55 millionths of a dollar.
    """
    return Usage(
        input_tokens=50,
        cached_input_tokens=2,
        output_tokens=4548,
        reasoning_tokens=4254,
        provider_reported_cost=reported,
    )


def price(usage: Usage, model: str = "grok-3-mini") -> CostBreakdown:
    """Return the cost of ``usage`` from the xAI table."""
    return PricingChain([TABLE]).calculate("xai", model, usage)


def cost_event(provider: str, usage: Usage) -> CostCalculated:
    """Return a CostCalculated event for a grok-3-mini response with ``usage``."""
    request = Request(provider=provider, model="grok-3-mini", messages="Hello")
    response = Response(request=request, text="Hi", usage=usage, model="grok-3-mini-high")
    return CostCalculated(request=request, response=response, cost=price(usage))


class TestReconcile:
    """reconcile(breakdown) returns the difference and warns when it is not zero."""

    def test_matching_bill_is_quiet(self, caplog: pytest.LogCaptureFixture) -> None:
        """A reported cost equal to ours returns 0 and logs nothing."""
        usage = billed_usage(Decimal("0.00228855"))
        with caplog.at_level(logging.WARNING):
            difference = reconcile(price(usage))
        assert difference == 0
        assert caplog.records == []

    def test_differing_bill_warns(self, caplog: pytest.LogCaptureFixture) -> None:
        """A reported cost that differs logs one warning with both figures."""
        usage = billed_usage(Decimal("0.003"))
        with caplog.at_level(logging.WARNING, logger="costkit_xai"):
            difference = reconcile(price(usage))
        assert difference == Decimal("0.00228855") - Decimal("0.003")
        assert len(caplog.records) == 1
        record = caplog.records[0]
        assert record.levelno == logging.WARNING
        assert "0.00228855" in record.getMessage()
        assert "0.003" in record.getMessage()
        assert "grok-3-mini" in record.getMessage()

    def test_no_reported_cost(self, caplog: pytest.LogCaptureFixture) -> None:
        """Without a reported cost there is nothing to compare."""
        with caplog.at_level(logging.WARNING):
            difference = reconcile(price(billed_usage(None)))
        assert difference is None
        assert caplog.records == []

    def test_unpriced_model_skipped(self, caplog: pytest.LogCaptureFixture) -> None:
        """An unpriced breakdown (policy warn) is not compared with the bill."""
        usage = Usage(input_tokens=1, output_tokens=1, provider_reported_cost=Decimal("0.01"))
        breakdown = PricingChain([TABLE], policy="warn").calculate("xai", "grok-99", usage)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="costkit_xai"):
            difference = reconcile(breakdown)
        assert difference is None
        assert [r for r in caplog.records if r.name.startswith("costkit_xai")] == []


class TestCostCalculatedHook:
    """The costkit_cost_calculated hook reconciles xAI responses only."""

    def test_hook_warns_for_xai(self, caplog: pytest.LogCaptureFixture, xai_manager: PluginManager) -> None:
        """The plugin manager's event reaches the hook, which warns about the difference."""
        usage = billed_usage(Decimal("0.003"))
        with caplog.at_level(logging.WARNING, logger="costkit_xai"):
            xai_manager.cost_calculated(cost_event("xai", usage))
        assert len(caplog.records) == 1
        assert "0.003" in caplog.records[0].getMessage()

    def test_hook_quiet_when_bill_matches(self, caplog: pytest.LogCaptureFixture) -> None:
        """A matching bill passes the hook without a warning."""
        usage = billed_usage(Decimal("0.00228855"))
        with caplog.at_level(logging.WARNING):
            costkit_xai.costkit_cost_calculated(cost_event("xai", usage))
        assert caplog.records == []

    def test_hook_ignores_other_providers(self, caplog: pytest.LogCaptureFixture) -> None:
        """Responses of other providers are left to their own plugins."""
        usage = billed_usage(Decimal("0.003"))
        with caplog.at_level(logging.WARNING):
            costkit_xai.costkit_cost_calculated(cost_event("openrouter", usage))
        assert caplog.records == []
