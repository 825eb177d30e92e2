"""Read the normalised usage out of OpenAI-shaped response bodies and stream events.

Three usage shapes arrive here:

- Chat Completions and embeddings: ``prompt_tokens`` (cache reads in
  ``prompt_tokens_details.cached_tokens`` are part of it) and ``completion_tokens``
  (``completion_tokens_details.reasoning_tokens`` are part of it). Embeddings carry no
  ``completion_tokens``.
- The Responses API: ``input_tokens`` with ``input_tokens_details.cached_tokens``, and
  ``output_tokens`` with ``output_tokens_details.reasoning_tokens``.
- OpenAI-compatible servers (Ollama's ``/v1``, OpenRouter) send the Chat Completions shape;
  OpenRouter adds ``usage.cost``, its charge in USD.

Streams carry usage once: Chat Completions in a final chunk with empty ``choices`` (only when
the request set ``stream_options.include_usage``), the Responses API in its
``response.completed`` event (or ``response.incomplete`` / ``response.failed``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from costkit._usage import Usage
from costkit.errors import UsageError

__all__ = ["extract", "stream_usage_payload"]

_RESPONSE_END_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
"""Responses API stream events whose ``response`` object contains the final usage."""


def extract(payload: Any, *, stream: bool) -> Usage | None:
    """Return the usage of an OpenAI-shaped body or stream, or ``None`` when it has none.

    Args:
        payload: The decoded JSON body; for ``stream=True``, the list of decoded events.
        stream: Whether ``payload`` is a list of stream events.

    Raises:
        UsageError: The counts are negative, not integers, or inconsistent.
    """
    usage = stream_usage_payload(payload) if stream else _body_usage(payload)
    if usage is None:
        return None
    return _to_usage(usage)


def _body_usage(payload: Any) -> Mapping[str, Any] | None:
    if not isinstance(payload, Mapping):
        return None
    usage = payload.get("usage")
    return usage if isinstance(usage, Mapping) else None


def stream_usage_payload(events: Iterable[Any]) -> Mapping[str, Any] | None:
    """Return the raw ``usage`` object of a stream: the last one any event carries."""
    found: Mapping[str, Any] | None = None
    for event in events:
        if not isinstance(event, Mapping):
            continue
        if event.get("type") in _RESPONSE_END_EVENTS:
            response = event.get("response")
            usage = response.get("usage") if isinstance(response, Mapping) else None
        else:
            usage = event.get("usage")
        if isinstance(usage, Mapping):
            found = usage
    return found


def _details(usage: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    details = usage.get(name)
    return details if isinstance(details, Mapping) else {}


def _count(source: Mapping[str, Any], name: str) -> Any:
    # A missing or null count is 0; anything else goes to Usage, which rejects non-integers.
    value = source.get(name)
    return 0 if value is None else value


def _to_usage(usage: Mapping[str, Any]) -> Usage:
    if "input_tokens" in usage or "output_tokens" in usage:
        input_details = _details(usage, "input_tokens_details")
        output_details = _details(usage, "output_tokens_details")
        input_tokens = _count(usage, "input_tokens")
        output_tokens = _count(usage, "output_tokens")
    else:
        input_details = _details(usage, "prompt_tokens_details")
        output_details = _details(usage, "completion_tokens_details")
        input_tokens = _count(usage, "prompt_tokens")
        output_tokens = _count(usage, "completion_tokens")

    return Usage(
        input_tokens=input_tokens,
        cached_input_tokens=_count(input_details, "cached_tokens"),
        cache_write_tokens=_count(input_details, "cache_write_tokens"),
        output_tokens=output_tokens,
        reasoning_tokens=_count(output_details, "reasoning_tokens"),
        audio_input_tokens=_count(input_details, "audio_tokens"),
        image_input_tokens=_count(input_details, "image_tokens"),
        audio_output_tokens=_count(output_details, "audio_tokens"),
        provider_reported_cost=_reported_cost(usage.get("cost")),
    )


def _reported_cost(value: Any) -> Decimal | None:
    """Convert OpenRouter's ``usage.cost`` (USD, a JSON number) to an exact Decimal."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        message = f"usage.cost must be a number of USD, got {value!r} ({type(value).__name__})"
        raise UsageError(message)
    # str() of a float is its shortest round-trip form, so 7.159e-05 becomes Decimal("0.00007159")
    # and not the float's binary expansion.
    try:
        return Decimal(str(value))
    except InvalidOperation:
        message = f"usage.cost must be a number of USD, got {value!r}"
        raise UsageError(message) from None
