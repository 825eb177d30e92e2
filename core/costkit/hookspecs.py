"""The hook specifications: the contract between costkit and its plugins.

Registration hooks receive a ``register`` callable and return nothing; costkit calls each of
them once when the plugin manager loads, and decides ordering and name clashes itself. Event
hooks are called for every event, in every registered plugin; their return values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from costkit.plugin._names import PROJECT_NAME

if TYPE_CHECKING:
    from costkit._models import BudgetExceeded, BudgetThresholdReached, CostCalculated, RequestSent, ResponseGenerated

__all__ = [
    "costkit_budget_exceeded",
    "costkit_budget_threshold_reached",
    "costkit_cost_calculated",
    "costkit_register_drivers",
    "costkit_register_middleware",
    "costkit_register_pricing_sources",
    "costkit_register_token_extractors",
    "costkit_request_sent",
    "costkit_response_generated",
    "hookspec",
]

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- Registration: called once, when the plugin manager loads ------------------------------


@hookspec
def costkit_register_drivers(register: Callable[..., None]) -> None:
    """Register provider drivers.

    Called once per plugin manager, after every plugin is loaded.

    Args:
        register: ``register(provider, factory)``. ``provider`` is the name requests use
            (``"openai"``); ``factory(**options)`` returns a driver (see
            :class:`costkit.drivers.Driver`) and receives the provider options of the client
            (``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``transport``...).
            A provider registered twice keeps the first registration and logs a warning.

    Returns nothing; results of implementations are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_register_token_extractors(register: Callable[..., None]) -> None:
    """Register usage extractors.

    Called once per plugin manager. ``costkit.extract_usage(provider, ...)`` dispatches to them.

    Args:
        register: ``register(provider, extractor)``. ``extractor(payload, *, stream)`` returns a
            :class:`costkit.Usage`, or ``None`` when the payload carries no usage. ``payload``
            is the decoded JSON body, or for ``stream=True`` the list of decoded stream events.

    Returns nothing; results of implementations are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_register_pricing_sources(register: Callable[..., None]) -> None:
    """Register pricing sources for the pricing chain.

    Called once per plugin manager. The chain asks sources in ascending priority; the core's
    database source has priority 0, provider tables use 100, and ties keep registration order.

    Args:
        register: ``register(source, priority=100)``. ``source`` follows
            :class:`costkit.pricing.PricingSource`: a ``name`` and
            ``find(provider, model) -> Sequence[ModelPrice]``.

    Returns nothing; results of implementations are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_register_middleware(register: Callable[..., None]) -> None:
    """Register middleware classes that clients can use by name.

    Called once per plugin manager.

    Args:
        register: ``register(name, middleware_class)``. The class derives from
            :class:`costkit.middleware.Middleware`; clients build it with the client context
            and the options configured for ``name``. A ``"module:Class"`` string in place of
            the class defers its import to the first use of the middleware, which keeps
            plugin discovery fast. Registering a taken name raises :class:`costkit.PluginError`.

    Returns nothing; results of implementations are ignored.

    .. versionadded:: 0.1
    """


# --- Events: called for every event, by every client ---------------------------------------


@hookspec
def costkit_request_sent(event: RequestSent) -> None:
    """Observe a request right before the driver sends it, after every middleware ran.

    Args:
        event: The :class:`costkit.RequestSent` event, carrying the request with its ids,
            provider, model and metadata.

    Returns nothing; results are ignored. An exception propagates to the caller.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_response_generated(event: ResponseGenerated) -> None:
    """Observe a response when the driver returns it, or when a stream ends.

    Args:
        event: The :class:`costkit.ResponseGenerated` event with the request and the response.

    Returns nothing; results are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_cost_calculated(event: CostCalculated) -> None:
    """Observe the cost of a response, computed by the ``cost-tracking`` middleware.

    Called once per request, before the ledger row is written.

    Args:
        event: The :class:`costkit.CostCalculated` event with the request, the response and
            the :class:`costkit.CostBreakdown`.

    Returns nothing; results are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_budget_threshold_reached(event: BudgetThresholdReached) -> None:
    """Observe a budget passing an alert threshold in its current window.

    Called once per budget, window and threshold: the ledger remembers which alerts were sent.

    Args:
        event: The :class:`costkit.BudgetThresholdReached` event.

    Returns nothing; results are ignored.

    .. versionadded:: 0.1
    """


@hookspec
def costkit_budget_exceeded(event: BudgetExceeded) -> None:
    """Observe a request refused by the ``budget-enforcement`` middleware.

    Called before :class:`costkit.BudgetExceededError` is raised to the caller.

    Args:
        event: The :class:`costkit.BudgetExceeded` event with the request and the error.

    Returns nothing; results are ignored.

    .. versionadded:: 0.1
    """
