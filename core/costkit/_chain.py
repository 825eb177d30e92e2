"""The process-wide pricing chain behind ``costkit.calculate_cost`` and ``Response.cost``."""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from costkit._streaming import parse_body
from costkit.errors import ConfigurationError
from costkit.plugin.manager import PluginManager, get_plugin_manager
from costkit.pricing import PricingChain

if TYPE_CHECKING:
    from costkit._models import Response
    from costkit._price import CostBreakdown
    from costkit._usage import Usage
    from costkit.db import Database

__all__ = ["build_chain", "calculate_cost", "default_chain", "default_pricer", "extract_usage", "reset_default_chain"]

_default: PricingChain | None = None
_lock = threading.Lock()


def build_chain(
    plugins: PluginManager, database: Database | None, *, policy: str = "raise", check_interval: float = 1.0
) -> PricingChain:
    """Assemble a pricing chain from the plugins' sources, binding database sources to ``database``.

    Sources that need a database (they have a ``bind`` method) are left out when ``database``
    is ``None``.
    """
    sources = []
    for source in plugins.pricing_sources():
        bind = getattr(source, "bind", None)
        if bind is None:
            sources.append(source)
        elif database is not None:
            sources.append(bind(database))
    counter = database.price_version if database is not None else None
    return PricingChain(sources, policy=policy, change_counter=counter, check_interval=check_interval)


def default_chain() -> PricingChain:
    """Return the chain of the process-wide plugin manager and the configured database.

    The database is used only when one is configured (``COSTKIT_DATABASE_URL``, the config
    file) or the default SQLite file already exists; a price lookup never creates a file.
    """
    global _default
    chain = _default
    if chain is None:
        with _lock:
            if _default is None:
                from costkit._config import load_settings
                from costkit.db import open_configured_database

                settings = load_settings()
                database = open_configured_database(settings, create=False)
                _default = build_chain(get_plugin_manager(), database, policy=settings.price_policy)
            chain = _default
    return chain


def reset_default_chain() -> None:
    """Forget the process-wide chain, so the next use rebuilds it (after plugin changes)."""
    global _default
    with _lock:
        _default = None


def default_pricer(response: Response) -> CostBreakdown:
    """Price a response through the process-wide chain."""
    return default_chain().price_response(response)


def calculate_cost(
    provider: str,
    model: str,
    usage: Usage,
    *,
    at: datetime | date | None = None,
    service_tier: str | None = None,
) -> CostBreakdown:
    """Compute the exact cost of ``usage`` for a model, with the price in force at ``at``.

    Args:
        provider: The provider name, such as ``"openai"``.
        model: The model name; dated, prefixed and aliased names resolve (see
            :mod:`costkit.pricing`).
        usage: The token counts.
        at: The request time; defaults to now (UTC).
        service_tier: ``batch``, ``flex``, ``priority``... when the request used one.

    Returns:
        The cost, with the price used and its source.

    Raises:
        PriceNotFoundError: No source prices the model at that time (policy ``raise``).

    .. versionadded:: 0.1
    """
    return default_chain().calculate(provider, model, usage, at=at, service_tier=service_tier)


def extract_usage(
    provider: str, payload: Any, *, stream: bool = False, plugins: PluginManager | None = None
) -> Usage | None:
    """Read the normalised usage out of a provider's response body or stream events.

    Args:
        provider: The provider whose extractor to use.
        payload: The decoded JSON body; for ``stream=True``, the list of decoded events. A str
            or bytes body is decoded first, and a stream is detected from its content.
        stream: Whether ``payload`` is a list of stream events.
        plugins: The plugin manager to ask; defaults to the process-wide one.

    Returns:
        The usage, or ``None`` when the payload carries none (a stream recorded without usage).

    Raises:
        ConfigurationError: No installed plugin extracts usage for ``provider``.
        UsageError: The payload's counts are invalid.

    .. versionadded:: 0.1
    """
    manager = plugins or get_plugin_manager()
    extractors = manager.token_extractors()
    extractor = extractors.get(provider)
    if extractor is None:
        known = ", ".join(sorted(extractors)) or "none"
        message = (
            f"no token extractor for provider {provider!r} (installed: {known}); install the plugin package of "
            "that provider, and check that COSTKIT_DISABLE_PLUGINS does not block it"
        )
        raise ConfigurationError(message)
    if isinstance(payload, (str, bytes)):
        payload, stream = parse_body(payload)
    result: Usage | None = extractor(payload, stream=stream)
    return result
