"""Compare the cost costkit computed for an xAI response with the charge xAI stated."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costkit import CostBreakdown

__all__ = ["reconcile"]

logger = logging.getLogger(__name__)


def reconcile(breakdown: CostBreakdown) -> Decimal | None:
    """Return our total minus xAI's stated charge, logging a warning when they differ.

    xAI states the charge of each response in ``cost_in_usd_ticks``, which the extractor keeps
    as ``Usage.provider_reported_cost``. A difference means the price table is out of date, or
    xAI billed something the usage does not show (server-side tool calls, for example).

    Args:
        breakdown: The computed cost of one response.

    Returns:
        The difference in USD (``Decimal(0)`` when the figures agree), or ``None`` when xAI
        stated no charge or the model is unpriced.
    """
    difference = breakdown.difference
    if difference is None or breakdown.unpriced:
        return None
    if difference:
        logger.warning(
            "xai/%s: costkit computed %s USD but xAI billed %s USD (difference %s USD); "
            "check the price of %s (source: %s)",
            breakdown.model,
            breakdown.total,
            breakdown.provider_reported,
            difference,
            breakdown.model,
            breakdown.source,
        )
    return difference
