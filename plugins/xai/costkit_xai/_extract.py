"""Read the token usage out of xAI Chat Completions and Responses API payloads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from costkit import Usage, UsageError

__all__ = ["TICKS_PER_USD", "extract", "ticks_to_usd", "usage_from_block"]

TICKS_PER_USD: Final = 10**10
"""xAI states its charge for a response in ``cost_in_usd_ticks``: 1 USD is 10^10 ticks."""

_TICKS_EXPONENT: Final = -10


def extract(payload: Any, *, stream: bool) -> Usage | None:
    """Return the usage of an xAI response body or stream, or ``None`` when it carries none.

    Args:
        payload: The decoded JSON body, or for ``stream=True`` the list of decoded stream events.
        stream: Whether ``payload`` is a list of stream events.

    Returns:
        The normalised usage, with ``provider_reported_cost`` set from ``cost_in_usd_ticks``.

    Raises:
        UsageError: A count or the tick charge is not a non-negative integer.
    """
    if stream:
        return _from_events(payload)
    block = _usage_of(payload)
    return None if block is None else usage_from_block(block)


def usage_from_block(block: Mapping[str, Any]) -> Usage:
    """Normalise one ``usage`` object of either API.

    Chat Completions names its counts ``prompt_tokens`` and ``completion_tokens``; the Responses
    API names them ``input_tokens`` and ``output_tokens``. The two differ in where reasoning is
    counted (see :func:`_output_tokens`).
    """
    if "prompt_tokens" in block or "completion_tokens" in block:
        prompt_details = _details(block, "prompt_tokens_details")
        output_details = _details(block, "completion_tokens_details")
        input_tokens = _count(block, "prompt_tokens")
        visible_output = _count(block, "completion_tokens")
        reasoning_outside = True
    else:
        prompt_details = _details(block, "input_tokens_details")
        output_details = _details(block, "output_tokens_details")
        input_tokens = _count(block, "input_tokens")
        visible_output = _count(block, "output_tokens")
        reasoning_outside = False

    reasoning = _count(output_details, "reasoning_tokens")
    output_tokens = _output_tokens(block, input_tokens, visible_output, reasoning, reasoning_outside=reasoning_outside)

    # Image and audio prompt tokens are recorded for reports only. xAI bills them as ordinary
    # prompt tokens, so the price table sets no separate rate for them.
    return Usage(
        input_tokens=input_tokens,
        cached_input_tokens=_count(prompt_details, "cached_tokens"),
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        image_input_tokens=_count(prompt_details, "image_tokens"),
        audio_input_tokens=_count(prompt_details, "audio_tokens"),
        audio_output_tokens=_count(output_details, "audio_tokens"),
        provider_reported_cost=ticks_to_usd(block.get("cost_in_usd_ticks")),
    )


def ticks_to_usd(ticks: Any) -> Decimal | None:
    """Convert a ``cost_in_usd_ticks`` value to exact USD, or return ``None`` when it is absent.

    The result equals ``Decimal(ticks).scaleb(-10)`` with trailing zeros dropped, so 113500
    ticks become ``Decimal("0.00001135")``.

    Raises:
        UsageError: ``ticks`` is not a non-negative int.
    """
    if ticks is None:
        return None
    if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 0:
        message = f"xAI cost_in_usd_ticks must be a non-negative integer, got {ticks!r}"
        raise UsageError(message)

    usd = Decimal(ticks).scaleb(_TICKS_EXPONENT).normalize()
    # normalize() writes whole dollars with a positive exponent (Decimal("2E+1")), so quantize them back to integers.
    exponent = usd.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        usd = usd.quantize(Decimal(1))
    return usd


def _from_events(events: Any) -> Usage | None:
    # A chat stream carries usage in its final chunk (with empty ``choices``), and a Responses
    # stream in its ``response.completed`` event. Either way the last event with usage wins.
    if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
        return None
    for event in reversed(events):
        block = _usage_of(event)
        if block is not None:
            return usage_from_block(block)
    return None


def _usage_of(payload: Any) -> Mapping[str, Any] | None:
    if not isinstance(payload, Mapping):
        return None
    block = payload.get("usage")
    if isinstance(block, Mapping):
        return block
    # Responses API stream events wrap the response object.
    response = payload.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("usage"), Mapping):
        usage: Mapping[str, Any] = response["usage"]
        return usage
    return None


def _output_tokens(
    block: Mapping[str, Any], input_tokens: int, visible_output: int, reasoning: int, *, reasoning_outside: bool
) -> int:
    """Return every billed output token, reasoning included.

    xAI's Chat Completions leaves reasoning out of ``completion_tokens`` (``total_tokens`` is
    prompt + completion + reasoning), while its Responses API counts reasoning inside
    ``output_tokens``. When ``total_tokens`` is present it decides, so a payload that follows
    the other convention is still counted once.
    """
    total = block.get("total_tokens")
    if reasoning and isinstance(total, int) and not isinstance(total, bool):
        if total == input_tokens + visible_output + reasoning:
            reasoning_outside = True
        elif total == input_tokens + visible_output:
            reasoning_outside = False
    return visible_output + reasoning if reasoning_outside else visible_output


def _details(block: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    details = block.get(key)
    return details if isinstance(details, Mapping) else {}


def _count(block: Mapping[str, Any], key: str) -> int:
    # A missing or null count reads as 0. Usage itself rejects negative counts.
    value = block.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        message = f"xAI usage field {key!r} must be an integer, got {value!r}"
        raise UsageError(message)
    return value
