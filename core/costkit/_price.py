"""Model prices and the exact cost math."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Final, NamedTuple

import attrs

from costkit._usage import Usage
from costkit.errors import PricingError, UsageError

__all__ = ["COMPONENTS", "RATE_FIELDS", "CostBreakdown", "ModelPrice", "PriceTier", "ServiceTierPrice"]

RATE_FIELDS: Final = (
    "input",
    "cached_input",
    "cache_write",
    "output",
    "reasoning",
    "audio_input",
    "audio_output",
    "image_input",
    "image_output",
)
"""Names of the per-million-token rates a price, a tier or a service tier can set."""

MAX_RATE_PLACES: Final = 6
"""Rates carry at most six decimal places per million tokens, so every cost is a whole
number of 10^-12 USD and the ledger stores it exactly as an integer."""

MIN_NONZERO_RATE: Final = Decimal("0.001")
"""A non-zero rate below this (USD per million tokens) was almost always typed per token."""

MAX_RATE: Final = Decimal(1_000_000)

_ZERO: Final = Decimal(0)
_MILLION_EXPONENT: Final = -6
_PICO: Final = Decimal("1E-12")
"""10^-12 USD: multiplying a whole count of it by this is exact and faster than scaleb()."""
_NO_PARTS: Final = (0, 0, 0, 0, 0, 0, 0, 0, 0)

COMPONENTS: Final = (
    "input",
    "cached_input",
    "cache_write",
    "output",
    "reasoning",
    "audio_input",
    "image_input",
    "audio_output",
    "image_output",
)
"""The token classes a CostBreakdown prices separately, in the order of its parts."""
_BASE_SERVICE_TIERS: Final = frozenset({"default", "auto", "standard"})
"""Service tier names that mean the base rates."""


def to_rate(value: Any, *, name: str = "rate") -> Decimal:
    """Convert a per-million-token rate to Decimal, rejecting floats and implausible values.

    Args:
        value: A Decimal, int or decimal string such as ``"2.50"``.
        name: The field name shown in error messages.

    Raises:
        PricingError: For floats, negative, non-finite, too precise or per-token-looking rates.
    """
    if isinstance(value, (bool, float)):
        message = (
            f"{name} must be a Decimal, int or decimal string, got the float {value!r}; "
            f"floats are not exact, so write Decimal({str(value)!r})"
        )
        raise PricingError(message)
    if isinstance(value, Decimal):
        rate = value
    elif isinstance(value, (int, str)):
        try:
            rate = Decimal(value)
        except ArithmeticError:
            message = f"{name} must be a decimal number of USD per million tokens, got {value!r}"
            raise PricingError(message) from None
    else:
        message = f"{name} must be a Decimal, int or decimal string, got {value!r} ({type(value).__name__})"
        raise PricingError(message)

    if not rate.is_finite() or rate < 0:
        message = f"{name} must be a finite, non-negative number of USD per million tokens, got {value!r}"
        raise PricingError(message)
    if rate and rate < MIN_NONZERO_RATE:
        per_million = rate.scaleb(6).normalize()
        message = (
            f"{name} is {value!r} USD per million tokens, which looks like a per-token rate; "
            f"rates are per million tokens, so write {per_million} if {value} is the price of one token"
        )
        raise PricingError(message)
    if rate >= MAX_RATE:
        message = f"{name} is {value!r} USD per million tokens, above the maximum of {MAX_RATE}; check the unit"
        raise PricingError(message)
    exponent = rate.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and exponent < -MAX_RATE_PLACES
        and rate != rate.quantize(Decimal(1).scaleb(-MAX_RATE_PLACES))
    ):
        message = (
            f"{name} is {value!r} USD per million tokens, with more than {MAX_RATE_PLACES} decimal places; "
            "round it to 6 places (1e-12 USD per token is the smallest unit costkit stores)"
        )
        raise PricingError(message)
    return rate


def _optional_rate(name: str) -> Any:
    def convert(value: Any) -> Decimal | None:
        return None if value is None else to_rate(value, name=name)

    return attrs.field(default=None, converter=convert, kw_only=True)


def _to_date(value: Any) -> date | None:
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            message = f"effective dates must be ISO dates such as '2025-06-10', got {value!r}"
            raise PricingError(message) from None
    message = f"effective dates must be datetime.date or ISO strings, got {value!r}"
    raise PricingError(message)


def _check_threshold(instance: Any, attribute: attrs.Attribute[int], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        message = f"PriceTier.threshold must be a non-negative int of prompt tokens, got {value!r}"
        raise PricingError(message)


@attrs.frozen(slots=True)
class PriceTier:
    """Rates that replace the base rates for the whole request once the prompt passes a length.

    The prompt length is ``Usage.input_tokens``, cached tokens included. Rates left as ``None``
    keep the base price's rate.

    .. versionadded:: 0.1
    """

    threshold: int = attrs.field(validator=_check_threshold)
    "Prompt tokens at which the tier starts."
    inclusive: bool = False
    "True: the tier applies from ``threshold`` tokens on; False: only above ``threshold``."
    input: Decimal | None = _optional_rate("PriceTier.input")
    "USD per million uncached input tokens within this tier."
    cached_input: Decimal | None = _optional_rate("PriceTier.cached_input")
    "USD per million cached input tokens within this tier."
    cache_write: Decimal | None = _optional_rate("PriceTier.cache_write")
    "USD per million tokens written to the cache within this tier."
    output: Decimal | None = _optional_rate("PriceTier.output")
    "USD per million output tokens within this tier."
    reasoning: Decimal | None = _optional_rate("PriceTier.reasoning")
    "USD per million reasoning tokens within this tier."
    audio_input: Decimal | None = _optional_rate("PriceTier.audio_input")
    "USD per million audio input tokens within this tier."
    audio_output: Decimal | None = _optional_rate("PriceTier.audio_output")
    "USD per million audio output tokens within this tier."
    image_input: Decimal | None = _optional_rate("PriceTier.image_input")
    "USD per million image input tokens within this tier."
    image_output: Decimal | None = _optional_rate("PriceTier.image_output")
    "USD per million image output tokens within this tier."

    def applies_to(self, prompt_tokens: int) -> bool:
        """Tell whether a prompt of ``prompt_tokens`` tokens is billed at this tier."""
        if self.inclusive:
            return prompt_tokens >= self.threshold
        return prompt_tokens > self.threshold


def _check_tier_name(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        message = f"ServiceTierPrice.name must be a non-empty string such as 'flex', got {value!r}"
        raise PricingError(message)


def _to_tier_tuple(value: Any) -> tuple[PriceTier, ...]:
    return _to_tiers(value)


def _to_input_rate(value: Any) -> Decimal:
    return to_rate(value, name="ModelPrice.input")


def _to_output_rate(value: Any) -> Decimal:
    return to_rate(value, name="ModelPrice.output")


@attrs.frozen(slots=True)
class ServiceTierPrice:
    """Rates of a service tier (``batch``, ``flex``, ``priority``) that replace the base rates.

    .. versionadded:: 0.1
    """

    name: str = attrs.field(validator=lambda instance, attribute, value: _check_tier_name(value))
    "The tier name as the request states it, such as ``flex``."
    input: Decimal | None = _optional_rate("ServiceTierPrice.input")
    "USD per million uncached input tokens."
    cached_input: Decimal | None = _optional_rate("ServiceTierPrice.cached_input")
    "USD per million cached input tokens."
    cache_write: Decimal | None = _optional_rate("ServiceTierPrice.cache_write")
    "USD per million tokens written to the cache."
    output: Decimal | None = _optional_rate("ServiceTierPrice.output")
    "USD per million output tokens."
    reasoning: Decimal | None = _optional_rate("ServiceTierPrice.reasoning")
    "USD per million reasoning tokens."
    audio_input: Decimal | None = _optional_rate("ServiceTierPrice.audio_input")
    "USD per million audio input tokens."
    audio_output: Decimal | None = _optional_rate("ServiceTierPrice.audio_output")
    "USD per million audio output tokens."
    image_input: Decimal | None = _optional_rate("ServiceTierPrice.image_input")
    "USD per million image input tokens."
    image_output: Decimal | None = _optional_rate("ServiceTierPrice.image_output")
    "USD per million image output tokens."
    tiers: tuple[PriceTier, ...] = attrs.field(default=(), converter=_to_tier_tuple, kw_only=True)
    "Prompt-length tiers of this service tier; when set, they replace the base price's tiers."


class _PicoRates(NamedTuple):
    """The rates of :class:`_Rates` as whole numbers of 10^-12 USD per token, in the order of RATE_FIELDS.

    A rate has at most six decimal places per million tokens, so this is exact, and the cost
    of a token class is one integer multiplication.
    """

    input: int
    cached_input: int
    cache_write: int
    output: int
    reasoning: int
    audio_input: int | None
    audio_output: int | None
    image_input: int | None
    image_output: int | None


def _pico(rate: Decimal) -> int:
    """Convert USD per million tokens to whole 10^-12 USD per token (exact: at most six places)."""
    return int(rate.scaleb(MAX_RATE_PLACES))


@attrs.frozen(slots=True)
class _Rates:
    """One fully resolved set of rates: every token class has the rate it is billed at."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    audio_input: Decimal | None
    audio_output: Decimal | None
    image_input: Decimal | None
    image_output: Decimal | None
    pico: _PicoRates = attrs.field(init=False, repr=False, eq=False)
    "The same rates in whole 10^-12 USD per token."

    def __attrs_post_init__(self) -> None:
        def optional(rate: Decimal | None) -> int | None:
            return None if rate is None else _pico(rate)

        pico = _PicoRates(
            input=_pico(self.input),
            cached_input=_pico(self.cached_input),
            cache_write=_pico(self.cache_write),
            output=_pico(self.output),
            reasoning=_pico(self.reasoning),
            audio_input=optional(self.audio_input),
            audio_output=optional(self.audio_output),
            image_input=optional(self.image_input),
            image_output=optional(self.image_output),
        )
        object.__setattr__(self, "pico", pico)

    @classmethod
    def layered(cls, *layers: Any) -> _Rates:
        """Resolve rates from layers, later layers overriding earlier ones where they set a rate."""
        values: dict[str, Decimal | None] = dict.fromkeys(RATE_FIELDS)
        for layer in layers:
            for name in RATE_FIELDS:
                rate = getattr(layer, name)
                if rate is not None:
                    values[name] = rate
        input_rate = values["input"]
        output_rate = values["output"]
        assert input_rate is not None and output_rate is not None
        return cls(
            input=input_rate,
            cached_input=values["cached_input"] if values["cached_input"] is not None else input_rate,
            cache_write=values["cache_write"] if values["cache_write"] is not None else input_rate,
            output=output_rate,
            reasoning=values["reasoning"] if values["reasoning"] is not None else output_rate,
            audio_input=values["audio_input"],
            audio_output=values["audio_output"],
            image_input=values["image_input"],
            image_output=values["image_output"],
        )


def _to_tiers(value: Any) -> tuple[PriceTier, ...]:
    tiers = tuple(value or ())
    for tier in tiers:
        if not isinstance(tier, PriceTier):
            message = f"ModelPrice.tiers must contain PriceTier objects, got {tier!r}"
            raise PricingError(message)
    return tuple(sorted(tiers, key=lambda tier: (tier.threshold, not tier.inclusive)))


def _to_service_tiers(value: Any) -> tuple[ServiceTierPrice, ...]:
    tiers = tuple(value or ())
    names = [tier.name for tier in tiers if isinstance(tier, ServiceTierPrice)]
    if len(names) != len(tiers):
        message = f"ModelPrice.service_tiers must contain ServiceTierPrice objects, got {value!r}"
        raise PricingError(message)
    if len(set(names)) != len(names):
        message = f"ModelPrice.service_tiers names must be unique, got {names!r}"
        raise PricingError(message)
    return tiers


def _to_aliases(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value or ())


@attrs.frozen(slots=True)
class ModelPrice:
    """The price of one model from one source, for one range of dates.

    Rates are Decimal USD per million tokens. Unset optional rates fall back: cached input and
    cache writes to ``input``, reasoning to ``output``; audio and image tokens without a rate
    are billed as text.

    .. versionadded:: 0.1
    """

    provider: str
    "The provider name, such as ``openai``."
    model: str
    "The model name this price is listed under, such as ``gpt-4o-2024-08-06``."
    input: Decimal = attrs.field(default=_ZERO, converter=_to_input_rate)
    "USD per million uncached input tokens."
    output: Decimal = attrs.field(default=_ZERO, converter=_to_output_rate)
    "USD per million output tokens."
    cached_input: Decimal | None = _optional_rate("ModelPrice.cached_input")
    "USD per million cached input tokens; ``None`` bills them at ``input``."
    cache_write: Decimal | None = _optional_rate("ModelPrice.cache_write")
    "USD per million tokens written to the cache; ``None`` bills them at ``input``."
    reasoning: Decimal | None = _optional_rate("ModelPrice.reasoning")
    "USD per million reasoning tokens; ``None`` bills them at ``output``."
    audio_input: Decimal | None = _optional_rate("ModelPrice.audio_input")
    "USD per million audio input tokens; ``None`` bills them as text."
    audio_output: Decimal | None = _optional_rate("ModelPrice.audio_output")
    "USD per million audio output tokens; ``None`` bills them as text."
    image_input: Decimal | None = _optional_rate("ModelPrice.image_input")
    "USD per million image input tokens; ``None`` bills them as text."
    image_output: Decimal | None = _optional_rate("ModelPrice.image_output")
    "USD per million image output tokens; ``None`` bills them as text."
    tiers: tuple[PriceTier, ...] = attrs.field(default=(), converter=_to_tiers, kw_only=True)
    "Prompt-length tiers; the highest one that applies prices the whole request."
    service_tiers: tuple[ServiceTierPrice, ...] = attrs.field(default=(), converter=_to_service_tiers, kw_only=True)
    "Rates for service tiers such as ``batch``, ``flex`` and ``priority``."
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_to_aliases, kw_only=True)
    "Other names that resolve to this price, such as ``grok-3-mini-high``."
    effective_from: date | None = attrs.field(default=None, converter=_to_date, kw_only=True)
    "First day (UTC) the price is in force; ``None`` means since always."
    effective_to: date | None = attrs.field(default=None, converter=_to_date, kw_only=True)
    "First day (UTC) the price is no longer in force; ``None`` means still in force."
    free: bool = attrs.field(default=False, kw_only=True)
    "True when the model costs nothing by declaration (a local model), as opposed to unpriced."
    currency: str = attrs.field(default="USD", kw_only=True)
    "ISO 4217 currency of every rate."
    source: str = attrs.field(default="", kw_only=True)
    "Where the rates come from: a URL, a table name and date, or ``database``."
    _base_rates: _Rates = attrs.field(init=False, repr=False, eq=False, hash=False)
    _rate_cache: dict[Any, _Rates] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if not self.provider or not self.model:
            message = f"ModelPrice needs a provider and a model, got provider={self.provider!r}, model={self.model!r}"
            raise PricingError(message)
        if self.free and (any(getattr(self, name) for name in RATE_FIELDS) or self.tiers or self.service_tiers):
            message = (
                f"ModelPrice for {self.provider}/{self.model} is free but also sets rates; a free model "
                "costs nothing, so drop the rates, or drop free=True to charge them"
            )
            raise PricingError(message)
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            message = (
                f"ModelPrice for {self.provider}/{self.model}: effective_to ({self.effective_to}) must be after "
                f"effective_from ({self.effective_from})"
            )
            raise PricingError(message)
        object.__setattr__(self, "_base_rates", _Rates.layered(self))
        object.__setattr__(self, "_rate_cache", {})

    def in_force(self, at: datetime | date) -> bool:
        """Tell whether the price applies at ``at`` (a datetime is compared by its UTC date)."""
        day = at.astimezone(timezone.utc).date() if isinstance(at, datetime) and at.tzinfo else at
        if isinstance(day, datetime):
            day = day.date()
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_to is None or day < self.effective_to

    def rates_for(self, prompt_tokens: int, service_tier: str | None = None) -> _Rates:
        """Return the resolved rates for a prompt length and an optional service tier.

        A service tier with tiers of its own prices long prompts with those; otherwise the
        base price's tiers are layered over the service tier's rates.
        """
        if service_tier is None and not self.tiers:
            return self._base_rates
        service = self._service_tier(service_tier) if service_tier is not None else None
        tiers = service.tiers if service is not None and service.tiers else self.tiers
        tier_index = -1
        for index, tier in enumerate(tiers):
            if tier.applies_to(prompt_tokens):
                tier_index = index
        if tier_index < 0 and service is None:
            return self._base_rates

        key = (tier_index, service_tier)
        rates = self._rate_cache.get(key)
        if rates is None:
            layers: list[Any] = [self]
            if service is not None:
                layers.append(service)
            if tier_index >= 0:
                layers.append(tiers[tier_index])
            rates = _Rates.layered(*layers)
            self._rate_cache[key] = rates
        return rates

    def _service_tier(self, name: str) -> ServiceTierPrice:
        for tier in self.service_tiers:
            if tier.name == name:
                return tier
        known = ", ".join(repr(tier.name) for tier in self.service_tiers) or "none"
        message = (
            f"{self.provider}/{self.model} has no rates for service tier {name!r} (known: {known}); "
            "add a ServiceTierPrice to the price, or send the request without service_tier"
        )
        raise PricingError(message)

    def calculate(
        self, usage: Usage, *, at: datetime | date | None = None, service_tier: str | None = None
    ) -> CostBreakdown:
        """Compute the exact cost of ``usage`` at this price.

        Each token class is billed once at its own rate: uncached input, cached input, cache
        writes, output, reasoning (at ``reasoning`` or else ``output``), and audio or image
        tokens where the price sets a rate for them. Amounts are exact Decimals, never rounded.

        Args:
            usage: The token counts of one response.
            at: When the request was made; only checked against the effective range.
            service_tier: ``batch``, ``flex``, ``priority`` or another tier the price lists;
                ``None``, ``"default"`` and ``"auto"`` use the base rates.

        Returns:
            The cost with one amount per token class.

        Raises:
            PricingError: The price is not in force at ``at``, or lacks the service tier.
            UsageError: The audio or image counts exceed the uncached input.
        """
        if at is not None and not self.in_force(at):
            message = (
                f"the price of {self.provider}/{self.model} is in force from {self.effective_from} "
                f"to {self.effective_to}, not at {at}; look the price up through costkit.calculate_cost"
            )
            raise PricingError(message)
        if service_tier is not None and service_tier in _BASE_SERVICE_TIERS:
            service_tier = None
        if self.free:
            return CostBreakdown(
                provider=self.provider,
                model=self.model,
                currency=self.currency,
                total=_ZERO,
                usage=usage,
                price=self,
                free=True,
                service_tier=service_tier,
                provider_reported=usage.provider_reported_cost,
            )

        rates = self.rates_for(usage.input_tokens, service_tier)
        (
            input_rate,
            cached_rate,
            write_rate,
            output_rate,
            reasoning_rate,
            audio_in_rate,
            audio_out_rate,
            image_in_rate,
            image_out_rate,
        ) = rates.pico
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        reasoning = usage.reasoning_tokens

        # Split input into classes billed once each: cache reads, cache writes, priced
        # modalities, and the remaining text.
        audio_in = usage.audio_input_tokens if audio_in_rate is not None else 0
        image_in = usage.image_input_tokens if image_in_rate is not None else 0
        text_in = usage.input_tokens - cached - written - audio_in - image_in
        if text_in < 0:
            message = (
                f"audio ({audio_in}) and image ({image_in}) input tokens exceed the uncached input "
                f"({usage.input_tokens - cached - written}) of {usage!r}"
            )
            raise UsageError(message)
        audio_out = usage.audio_output_tokens if audio_out_rate is not None else 0
        image_out = usage.image_output_tokens if image_out_rate is not None else 0
        text_out = usage.output_tokens - reasoning - audio_out - image_out
        if text_out < 0:
            message = f"audio, image and reasoning output tokens exceed the output of {usage!r}"
            raise UsageError(message)

        # Whole 10^-12 USD per class: exact integer arithmetic, converted to Decimal once.
        parts = (
            text_in * input_rate,
            cached * cached_rate,
            written * write_rate,
            text_out * output_rate,
            reasoning * reasoning_rate,
            audio_in * audio_in_rate if audio_in else 0,  # type: ignore[operator]
            image_in * image_in_rate if image_in else 0,  # type: ignore[operator]
            audio_out * audio_out_rate if audio_out else 0,  # type: ignore[operator]
            image_out * image_out_rate if image_out else 0,  # type: ignore[operator]
        )
        return _breakdown(
            {
                "provider": self.provider,
                "model": self.model,
                "currency": self.currency,
                "total": Decimal(sum(parts)) * _PICO,
                "usage": usage,
                "price": self,
                "free": False,
                "unpriced": False,
                "service_tier": service_tier,
                "provider_reported": usage.provider_reported_cost,
                "_parts": parts,
            }
        )


# Not slotted, so that _breakdown can install a finished instance dict in one step: one
# CostBreakdown is built for every priced response.
@attrs.frozen(slots=False)
class CostBreakdown:
    """The cost of one response, split by token class, with the price that produced it.

    .. versionadded:: 0.1
    """

    provider: str
    "The provider of the model."
    model: str
    "The model name of the price that was applied."
    currency: str
    "ISO 4217 currency of every amount."
    total: Decimal
    "The sum of every component; exact, never rounded."
    usage: Usage
    "The token counts that were priced."
    price: ModelPrice | None
    "The price applied, or ``None`` when the model is unpriced."
    free: bool = False
    "True when the model is free by declaration."
    unpriced: bool = False
    "True when no price was found and the ``warn`` policy let the request through at 0."
    service_tier: str | None = None
    "The service tier whose rates were applied, if any."
    provider_reported: Decimal | None = None
    "The charge the provider stated for the response, when it states one."
    _parts: tuple[int, ...] = attrs.field(default=_NO_PARTS, alias="parts", repr=False)
    "The cost of each token class in whole 10^-12 USD, in the order of :data:`COMPONENTS`."

    def _part(self, index: int) -> Decimal:
        units = self._parts[index]
        return Decimal(units) * _PICO if units else _ZERO

    @property
    def input(self) -> Decimal:
        """Cost of uncached text input tokens."""
        return self._part(0)

    @property
    def cached_input(self) -> Decimal:
        """Cost of cached input tokens."""
        return self._part(1)

    @property
    def cache_write(self) -> Decimal:
        """Cost of tokens written to the cache."""
        return self._part(2)

    @property
    def output(self) -> Decimal:
        """Cost of text output tokens other than reasoning."""
        return self._part(3)

    @property
    def reasoning(self) -> Decimal:
        """Cost of reasoning tokens."""
        return self._part(4)

    @property
    def audio_input(self) -> Decimal:
        """Cost of audio input tokens priced at their own rate."""
        return self._part(5)

    @property
    def image_input(self) -> Decimal:
        """Cost of image input tokens priced at their own rate."""
        return self._part(6)

    @property
    def audio_output(self) -> Decimal:
        """Cost of audio output tokens priced at their own rate."""
        return self._part(7)

    @property
    def image_output(self) -> Decimal:
        """Cost of image output tokens priced at their own rate."""
        return self._part(8)

    def components(self) -> dict[str, Decimal]:
        """Return the cost of each token class, by name."""
        return {name: self._part(index) for index, name in enumerate(COMPONENTS)}

    @property
    def source(self) -> str | None:
        """The source of the price applied, or ``None`` when unpriced."""
        return self.price.source if self.price is not None else None

    @property
    def difference(self) -> Decimal | None:
        """Our total minus the provider-reported charge, or ``None`` without a reported charge."""
        if self.provider_reported is None:
            return None
        return self.total - self.provider_reported


_BREAKDOWN_FIELDS: Final = frozenset(field.name for field in attrs.fields(CostBreakdown))
# _breakdown skips __init__, which is only correct while __init__ just stores the values.
assert all(field.validator is None and field.converter is None for field in attrs.fields(CostBreakdown))


def _breakdown(values: dict[str, Any]) -> CostBreakdown:
    """Build a CostBreakdown from a value for every field, without calling its ``__init__``.

    The generated ``__init__`` of this frozen class stores the values one by one. Installing
    the finished dict takes about a quarter less time (0.73 against 0.98 microseconds, timed
    with ``timeit`` on the machine of docs/benchmarks.md).
    """
    breakdown = object.__new__(CostBreakdown)
    object.__setattr__(breakdown, "__dict__", values)
    return breakdown
