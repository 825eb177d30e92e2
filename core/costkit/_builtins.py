"""The core's own plugin: built-in middleware and the database pricing source.

They register through the same hooks as installed plugins, so they can be listed, replaced
in tests, and reasoned about the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from costkit.plugin import hookimpl

__all__ = ["costkit_register_middleware", "costkit_register_pricing_sources"]


@hookimpl
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register the database pricing source first in the chain (priority 0)."""
    from costkit._database_source import DatabasePriceSource

    register(DatabasePriceSource(), priority=0)


@hookimpl
def costkit_register_middleware(register: Callable[..., None]) -> None:
    """Register ``cost-tracking`` and ``budget-enforcement``, imported on first use."""
    register("budget-enforcement", "costkit.budgets:BudgetEnforcementMiddleware")
    register("cost-tracking", "costkit.ledger:CostTrackingMiddleware")
