"""Budgets and the budget-enforcement middleware."""

from __future__ import annotations

from costkit.middleware import Middleware

__all__ = ["BudgetEnforcementMiddleware"]


class BudgetEnforcementMiddleware(Middleware):
    """Reserve the worst-case cost of a request against every applicable budget."""

    name = "budget-enforcement"
