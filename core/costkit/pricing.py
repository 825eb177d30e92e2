"""Pricing sources, model-name resolution and the pricing chain.

The chain asks every registered source for a price, in priority order (the database first,
then the tables that provider plugins ship). A model name is resolved in these steps; the
first step at which any source has a price in force at the request time wins, and within a
step the source with the lowest priority number wins:

1. the name exactly as given (``gpt-4o-2024-05-13``);
2. the name without a provider prefix (``openai/``, ``xai/``, ``models/``...) and lower-cased;
3. without a ``-latest`` or ``-beta`` suffix, or an Ollama ``:latest`` tag;
4. without a date suffix (``-2024-08-06``, ``-20250514``, ``-0709``, ``-preview-05-20``),
   that is, the family entry: a dated snapshot with a price of its own never gets here.

Sources also answer to the aliases their prices declare (``grok-3-mini-high``), at every step.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import attrs

from costkit._price import CostBreakdown, ModelPrice
from costkit._usage import Usage
from costkit.errors import PriceNotFoundError, PricingError

if TYPE_CHECKING:
    from costkit._models import Response

__all__ = [
    "PRICE_POLICIES",
    "FreeModels",
    "PricingChain",
    "PricingSource",
    "Resolution",
    "StaticPriceTable",
    "candidate_names",
]

logger = logging.getLogger(__name__)

PRICE_POLICIES: Final = ("raise", "warn")
"""The policies for a model no source prices: raise, or warn and mark it unpriced."""

PROVIDER_PREFIXES: Final = ("openai/", "xai/", "x-ai/", "models/", "google/", "gemini/", "ollama/")

_ALIAS_SUFFIX = re.compile(r"(-latest|-beta|:latest)$")
_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|preview-\d{2}-\d{2}|preview-\d{2}-\d{4})$")
_ZERO: Final = Decimal(0)


@runtime_checkable
class PricingSource(Protocol):
    """A place prices come from.

    ``find`` receives a name already normalised by the chain (see the module docstring) and
    returns every price listed under that name or alias, any effective range; an empty
    sequence means "not here". A source whose prices depend on the client's database may
    also define ``bind(database) -> PricingSource``; the chain calls it once per client.

    .. versionadded:: 0.1
    """

    name: str

    def find(self, provider: str, model: str) -> Sequence[ModelPrice]:
        """Return the prices listed under ``model`` (or with it as an alias) for ``provider``."""
        ...


class StaticPriceTable:
    """A pricing source backed by a fixed list of prices, such as a provider plugin's table.

    Args:
        name: The source name shown as the price's provenance, for example
            ``"costkit-openai table (checked 2026-11-20)"``.
        prices: The prices; several prices under one name form its history.

    .. versionadded:: 0.1
    """

    def __init__(self, name: str, prices: Iterable[ModelPrice]) -> None:
        self.name = name
        self._prices = tuple(prices)
        self._index: dict[tuple[str, str], list[ModelPrice]] = {}
        for price in self._prices:
            for key in (price.model, *price.aliases):
                self._index.setdefault((price.provider, key.lower()), []).append(price)

    def __repr__(self) -> str:
        return f"StaticPriceTable({self.name!r}, {len(self._prices)} prices)"

    @property
    def prices(self) -> tuple[ModelPrice, ...]:
        """Every price in the table."""
        return self._prices

    def find(self, provider: str, model: str) -> Sequence[ModelPrice]:
        """Return the prices listed under ``model`` or with it as an alias."""
        return self._index.get((provider, model.lower()), ())


class FreeModels:
    """A pricing source that declares every model of one provider free (local models).

    .. versionadded:: 0.1
    """

    def __init__(self, provider: str, name: str | None = None) -> None:
        self.provider = provider
        self.name = name or f"{provider} models are free by declaration"

    def find(self, provider: str, model: str) -> Sequence[ModelPrice]:
        """Return a free price for any model of the provider, nothing for other providers."""
        if provider != self.provider:
            return ()
        return (ModelPrice(provider=provider, model=model, free=True, source=self.name),)


def candidate_names(provider: str, model: str) -> list[str]:
    """List the names the chain tries for ``model``, in order, without repeats."""
    names = [model]
    normalised = model.strip().lower()
    for prefix in (f"{provider.lower()}/", *PROVIDER_PREFIXES):
        if normalised.startswith(prefix):
            normalised = normalised[len(prefix) :]
            break
    names.append(normalised)
    without_alias = _ALIAS_SUFFIX.sub("", normalised)
    names.append(without_alias)
    family = _DATE_SUFFIX.sub("", without_alias)
    names.append(family)
    seen: set[str] = set()
    unique = []
    for name in names:
        if name and name not in seen:
            seen.add(name)
            unique.append(name)
    return unique


def _as_datetime(at: datetime | date | None) -> datetime:
    if at is None:
        return datetime.now(timezone.utc)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return datetime(at.year, at.month, at.day, tzinfo=timezone.utc)


class PricingChain:
    """Resolve a provider and model to a price by asking sources in order, with a cache.

    Args:
        sources: Pricing sources, in the order they are asked.
        policy: ``"raise"`` (the default) raises :class:`~costkit.PriceNotFoundError` for an
            unknown model; ``"warn"`` logs a warning and returns a breakdown marked unpriced.
        change_counter: Returns a number that changes whenever a source's prices change (the
            database's price version). The chain reads it at most every ``check_interval``
            seconds and drops its cache when it changed.
        check_interval: Seconds between change-counter reads; a price written by another
            process is used within this bound.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        sources: Sequence[PricingSource],
        *,
        policy: str = "raise",
        change_counter: Callable[[], int] | None = None,
        check_interval: float = 1.0,
    ) -> None:
        if policy not in PRICE_POLICIES:
            message = f"price policy must be one of {', '.join(PRICE_POLICIES)}; got {policy!r}"
            raise PricingError(message)
        self.sources = tuple(sources)
        self.policy = policy
        self._change_counter = change_counter
        self._check_interval = check_interval
        self._cache: dict[tuple[str, str], tuple[tuple[PricingSource, tuple[ModelPrice, ...]], ...]] = {}
        # Names whose first match has no effective range: that price applies at any time.
        self._timeless: dict[tuple[str, str], ModelPrice] = {}
        self._version: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        _live_chains.add(self)

    def invalidate(self) -> None:
        """Drop every cached lookup, so the next one queries the sources again."""
        for source in self.sources:
            refresh = getattr(source, "refresh", None)
            if refresh is not None:
                refresh()
        self._cache = {}
        self._timeless = {}

    def _check_changes(self) -> None:
        if self._change_counter is None:
            return
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return
        with self._lock:
            self._checked_at = now
            try:
                version = self._change_counter()
            except Exception:
                logger.warning("Could not read the price change counter; keeping cached prices", exc_info=True)
                return
            if version != self._version:
                self._version = version
                self.invalidate()

    def candidates(self, provider: str, model: str) -> tuple[tuple[PricingSource, tuple[ModelPrice, ...]], ...]:
        """Return every (source, prices) match for the model, in resolution order."""
        self._check_changes()
        key = (provider, model)
        found = self._cache.get(key)
        if found is None:
            matches = []
            for name in candidate_names(provider, model):
                for source in self.sources:
                    prices = tuple(source.find(provider, name))
                    if prices:
                        matches.append((source, prices))
            found = tuple(matches)
            self._cache[key] = found
        return found

    def explain(self, provider: str, model: str, *, at: datetime | date | None = None) -> Resolution | None:
        """Return the price in force at ``at`` with the name of the source that has it, or ``None``."""
        when = _as_datetime(at)
        for source, prices in self.candidates(provider, model):
            for price in prices:
                if price.in_force(when):
                    return Resolution(price=price, source=getattr(source, "name", repr(source)))
        return None

    def resolve(self, provider: str, model: str, *, at: datetime | date | None = None) -> ModelPrice | None:
        """Return the price in force at ``at`` (default: now, UTC), or ``None`` when none is."""
        self._check_changes()
        key = (provider, model)
        timeless = self._timeless.get(key)
        if timeless is not None:
            return timeless
        when: datetime | None = None
        first = True
        for _source, prices in self.candidates(provider, model):
            for price in prices:
                # A price without an effective range is in force at any time, so the clock
                # is read only for prices with a range.
                if price.effective_from is None and price.effective_to is None:
                    if first:
                        self._timeless[key] = price
                    return price
                first = False
                if when is None:
                    when = _as_datetime(at)
                if price.in_force(when):
                    return price
        return None

    def calculate(
        self,
        provider: str,
        model: str,
        usage: Usage,
        *,
        at: datetime | date | None = None,
        service_tier: str | None = None,
    ) -> CostBreakdown:
        """Price ``usage`` with the price in force at ``at``.

        Raises:
            PriceNotFoundError: No source prices the model at that time and the policy is ``raise``.
        """
        price = self.resolve(provider, model, at=at)
        if price is None:
            return self._unpriced(provider, model, usage, at)
        return price.calculate(usage, service_tier=service_tier)

    def _unpriced(self, provider: str, model: str, usage: Usage, at: datetime | date | None) -> CostBreakdown:
        asked = tuple(getattr(source, "name", repr(source)) for source in self.sources)
        history = self.candidates(provider, model)
        if history:
            when = _as_datetime(at).date()
            reason = f"prices exist for {provider}/{model} but none is in force on {when}"
        else:
            reason = f"no pricing source has a price for {provider}/{model}"
        message = (
            f"{reason} (asked: {', '.join(asked) or 'no sources'}; names tried: "
            f"{', '.join(candidate_names(provider, model))}). Add one with "
            f"`costkit prices set --provider {provider} --model {model} --input RATE --output RATE` "
            "or client.prices.set(costkit.ModelPrice(...)), declare it free, or set price_policy='warn'"
        )
        if self.policy == "raise":
            raise PriceNotFoundError(message, provider=provider, model=model, sources=asked)
        logger.warning("%s; recording the cost as 0 and unpriced", message)
        return CostBreakdown(
            provider=provider,
            model=model,
            currency="USD",
            total=_ZERO,
            usage=usage,
            price=None,
            unpriced=True,
            provider_reported=usage.provider_reported_cost,
        )

    def price_response(self, response: Response) -> CostBreakdown:
        """Price a response: its own model name first, then the requested one."""
        usage = response.usage
        if usage is None:
            message = (
                f"response {response.request_id} from {response.provider} carries no usage, so it cannot "
                "be priced; the driver should have estimated it"
            )
            raise PricingError(message)
        request = response.request
        model = response.model or request.model
        at = request.created_at
        if model != request.model and self.resolve(request.provider, model, at=at) is None:
            model = request.model
        return self.calculate(request.provider, model, usage, at=at, service_tier=request.service_tier)


@attrs.frozen
class Resolution:
    """A resolved price and the source it came from."""

    price: ModelPrice
    "The price in force."
    source: str
    "The name of the source that had it."


_live_chains: weakref.WeakSet[PricingChain] = weakref.WeakSet()


def invalidate_all_chains() -> None:
    """Drop the caches of every chain in this process (after a price write)."""
    for chain in list(_live_chains):
        chain.invalidate()
