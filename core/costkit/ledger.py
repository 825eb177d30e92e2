"""The cost ledger and the cost-tracking middleware."""

from __future__ import annotations

from costkit.middleware import Middleware

__all__ = ["CostTrackingMiddleware"]


class CostTrackingMiddleware(Middleware):
    """Price every response and record it in the ledger."""

    name = "cost-tracking"
