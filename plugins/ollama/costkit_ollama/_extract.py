"""Read token usage out of Ollama's native API bodies (``/api/chat``, ``/api/generate``, ``/api/embed``).

Ollama reports the counts of a request in one object: the whole body of a non-streamed
response, or the last (``"done": true``) object of an NDJSON stream. Facts this module relies on:

- ``prompt_eval_count`` is the number of prompt tokens, and ``eval_count`` the number of
  generated tokens. Ollama omits a zero count from its JSON, so a prompt served entirely
  from the KV cache arrives without ``prompt_eval_count``; it counts as 0.
- ``prompt_eval_cached_count`` (newer servers) is the part of the prompt served from the
  KV cache, a subset of ``prompt_eval_count``.
- ``/api/embed`` reports ``prompt_eval_count`` and nothing else; the legacy
  ``/api/embeddings`` body and ``/api/pull`` progress streams carry no counts at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from costkit import Usage

__all__ = ["COUNT_KEYS", "DURATION_KEYS", "durations", "extract", "final_object"]

COUNT_KEYS: Final = ("prompt_eval_count", "prompt_eval_cached_count", "eval_count")
"""The keys of a body that carry token counts."""

DURATION_KEYS: Final = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")
"""The keys of a body that carry timings, in nanoseconds."""


def extract(payload: Any, *, stream: bool) -> Usage | None:
    """Read the usage out of an Ollama body or the decoded objects of an NDJSON stream.

    Args:
        payload: The decoded JSON body; for ``stream=True``, the list of decoded objects.
        stream: Whether ``payload`` is a list of stream objects.

    Returns:
        The usage, or ``None`` when the payload carries no counts: the legacy
        ``/api/embeddings`` body, a pull progress stream, or a stream cut off before its
        final object.

    Raises:
        UsageError: A count is negative or not an integer.
    """
    final = final_object(payload) if stream or isinstance(payload, list) else _usage_object(payload)
    if final is None:
        return None

    prompt = _count(final, "prompt_eval_count")
    cached = _count(final, "prompt_eval_cached_count")
    output = _count(final, "eval_count")

    # The cached tokens are a subset of the prompt. A server that omits prompt_eval_count
    # because the whole prompt came from the cache still read every cached token.
    if final.get("prompt_eval_count") is None:
        prompt = cached
    return Usage(input_tokens=prompt, cached_input_tokens=cached, output_tokens=output)


def final_object(events: Any) -> Mapping[str, Any] | None:
    """Return the last stream object that carries usage, or ``None`` when there is none."""
    if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
        return None
    for event in reversed(events):
        found = _usage_object(event)
        if found is not None:
            return found
    return None


def durations(body: Mapping[str, Any]) -> dict[str, int]:
    """Return the timings of a body (nanoseconds) under their Ollama names, where present."""
    return {key: body[key] for key in DURATION_KEYS if isinstance(body.get(key), int)}


def _usage_object(body: Any) -> Mapping[str, Any] | None:
    """Return ``body`` when it is an object that carries usage: a final object, or one with counts."""
    if not isinstance(body, Mapping):
        return None
    if body.get("done") is True or any(key in body for key in COUNT_KEYS):
        return body
    return None


def _count(body: Mapping[str, Any], key: str) -> Any:
    # A missing or null count is a count Ollama left out because it was zero. Any other
    # value goes to Usage unchanged, so a float or negative count raises UsageError.
    value = body.get(key)
    return 0 if value is None else value
