"""The normalised token usage of one response."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import attrs

from costkit.errors import UsageError

__all__ = ["COUNT_FIELDS", "MAX_TOKENS", "Usage"]

MAX_TOKENS: Final = 10**10
"""The largest count accepted for one field. No single request comes near it, so a larger
count is a unit or parsing mistake."""

COUNT_FIELDS: Final = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "image_input_tokens",
    "audio_output_tokens",
    "image_output_tokens",
    "tool_use_prompt_tokens",
)


def _check_count(instance: Any, attribute: attrs.Attribute[int], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        message = (
            f"Usage.{attribute.name} must be an int, got {value!r} ({type(value).__name__}); "
            "convert the provider's count with int() where it is exact"
        )
        raise UsageError(message)
    if value < 0:
        message = f"Usage.{attribute.name} must not be negative, got {value!r}"
        raise UsageError(message)
    if value > MAX_TOKENS:
        message = f"Usage.{attribute.name} is {value!r}, above the maximum of {MAX_TOKENS:,} tokens for one request"
        raise UsageError(message)


def _check_reported_cost(instance: Any, attribute: attrs.Attribute[Decimal | None], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        message = f"Usage.provider_reported_cost must be a finite, non-negative Decimal or None, got {value!r}"
        raise UsageError(message)


def _count() -> Any:
    return attrs.field(default=0, validator=_check_count)


@attrs.frozen(slots=True)
class Usage:
    """Token counts of one response, normalised across providers.

    Every count is a non-negative int. ``input_tokens`` holds every billed prompt token and the
    cache fields are subsets of it; ``output_tokens`` holds every billed output token and
    ``reasoning_tokens`` is a subset of it. Invalid counts raise :class:`~costkit.UsageError`.

    .. versionadded:: 0.1
    """

    input_tokens: int = _count()
    "Every billed prompt token, cached ones and tool-use prompt tokens included."
    cached_input_tokens: int = _count()
    "Prompt tokens read from the provider's cache (a subset of ``input_tokens``)."
    cache_write_tokens: int = _count()
    "Prompt tokens written to the provider's cache (a subset of ``input_tokens``)."
    output_tokens: int = _count()
    "Every billed output token, reasoning included."
    reasoning_tokens: int = _count()
    "Hidden reasoning or thinking tokens (a subset of ``output_tokens``)."
    audio_input_tokens: int = _count()
    "Audio prompt tokens (a subset of ``input_tokens``)."
    image_input_tokens: int = _count()
    "Image prompt tokens (a subset of ``input_tokens``)."
    audio_output_tokens: int = _count()
    "Audio output tokens (a subset of ``output_tokens``)."
    image_output_tokens: int = _count()
    "Image output tokens (a subset of ``output_tokens``)."
    tool_use_prompt_tokens: int = _count()
    "Prompt tokens added by provider-side tools (a subset of ``input_tokens``)."
    estimated: bool = attrs.field(default=False, kw_only=True)
    "True when the counts were estimated because the provider sent none."
    provider_reported_cost: Decimal | None = attrs.field(default=None, kw_only=True, validator=_check_reported_cost)
    "The charge in USD that the provider stated for this response, when it states one."

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.cached_input_tokens + self.cache_write_tokens > self.input_tokens:
            problems.append(
                f"cached_input_tokens ({self.cached_input_tokens}) + cache_write_tokens "
                f"({self.cache_write_tokens}) exceed input_tokens ({self.input_tokens})"
            )
        if self.audio_input_tokens + self.image_input_tokens > self.input_tokens:
            problems.append(
                f"audio_input_tokens ({self.audio_input_tokens}) + image_input_tokens "
                f"({self.image_input_tokens}) exceed input_tokens ({self.input_tokens})"
            )
        if self.tool_use_prompt_tokens > self.input_tokens:
            problems.append(
                f"tool_use_prompt_tokens ({self.tool_use_prompt_tokens}) exceed input_tokens ({self.input_tokens})"
            )
        if self.reasoning_tokens > self.output_tokens:
            problems.append(
                f"reasoning_tokens ({self.reasoning_tokens}) exceed output_tokens ({self.output_tokens}); "
                "output_tokens must include reasoning"
            )
        if self.audio_output_tokens + self.image_output_tokens > self.output_tokens:
            problems.append(
                f"audio_output_tokens ({self.audio_output_tokens}) + image_output_tokens "
                f"({self.image_output_tokens}) exceed output_tokens ({self.output_tokens})"
            )
        if problems:
            raise UsageError("Inconsistent usage: " + "; ".join(problems))

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        counts = {name: getattr(self, name) + getattr(other, name) for name in COUNT_FIELDS}
        reported = None
        if self.provider_reported_cost is not None and other.provider_reported_cost is not None:
            reported = self.provider_reported_cost + other.provider_reported_cost
        return Usage(**counts, estimated=self.estimated or other.estimated, provider_reported_cost=reported)

    def as_counts(self) -> dict[str, int]:
        """Return the token counts as a plain dict, one key per count field."""
        return {name: getattr(self, name) for name in COUNT_FIELDS}
