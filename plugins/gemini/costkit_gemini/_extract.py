"""Read the normalised usage out of Gemini response bodies and stream chunks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from costkit._usage import Usage
from costkit.errors import UsageError

__all__ = ["MODALITY_NAMES", "extract", "modality_name", "usage_from_metadata"]

MODALITY_NAMES: Final = {0: "MODALITY_UNSPECIFIED", 1: "TEXT", 2: "IMAGE", 3: "VIDEO", 4: "AUDIO", 5: "DOCUMENT"}
"""The ``Modality`` enum of the Gemini API, for bodies requested with ``enum-encoding=int``."""

_COUNT_KEYS: Final = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
)


def extract(payload: Any, *, stream: bool) -> Usage | None:
    """Read the usage of a Gemini response body or of a list of stream chunks.

    Gemini repeats ``usageMetadata`` in every stream chunk as a running total, so a stream's
    usage is the last chunk's ``usageMetadata``, never a sum. A JSON-array stream passed as
    one decoded body (a list) is read the same way.

    Args:
        payload: The decoded body of ``generateContent``, ``embedContent`` or
            ``batchEmbedContents``; for ``stream=True``, the decoded chunks in order.
        stream: Whether ``payload`` is a list of stream chunks.

    Returns:
        The usage, or ``None`` when no body or chunk carries ``usageMetadata`` (a
        ``countTokens`` body, or embeddings recorded without usage).

    Raises:
        UsageError: A count is not a non-negative integer, or the counts are inconsistent.
    """
    if stream or isinstance(payload, list):
        chunks = payload if isinstance(payload, Sequence) and not isinstance(payload, (str, bytes)) else [payload]
        for chunk in reversed(chunks):
            metadata = _metadata_of(chunk)
            if metadata is not None:
                return usage_from_metadata(metadata)
        return None

    metadata = _metadata_of(payload)
    if metadata is None:
        return None
    return usage_from_metadata(metadata)


def usage_from_metadata(metadata: Mapping[str, Any]) -> Usage:
    """Convert one ``usageMetadata`` object into a :class:`~costkit.Usage`.

    ``promptTokenCount`` already includes ``cachedContentTokenCount``. Tool-use prompt tokens
    are billed as input on top of it, and thinking tokens as output on top of
    ``candidatesTokenCount``. The audio and image counts are the uncached part of each
    modality, because costkit bills cached tokens at the cached rate whatever their modality.

    Raises:
        UsageError: A count is not a non-negative integer, or the counts are inconsistent.
    """
    prompt = _count(metadata, "promptTokenCount")
    cached = _count(metadata, "cachedContentTokenCount")
    candidates = _count(metadata, "candidatesTokenCount")
    thoughts = _count(metadata, "thoughtsTokenCount")
    tool_use = _count(metadata, "toolUsePromptTokenCount")

    input_tokens = prompt + tool_use
    output_tokens = candidates + thoughts

    # Embedding bodies spell the prompt details "promptTokenDetails" (singular "Token").
    prompt_details = metadata.get("promptTokensDetails", metadata.get("promptTokenDetails"))
    cache_details = metadata.get("cacheTokensDetails")
    output_details = metadata.get("candidatesTokensDetails")
    uncached_input = input_tokens - min(cached, input_tokens)

    # NOTE: modality details are a breakdown of the totals above. They are clamped to the
    # totals so that an inconsistent breakdown never rejects a response whose totals are fine.
    audio_in = _uncached_modality(prompt_details, cache_details, "AUDIO")
    image_in = _uncached_modality(prompt_details, cache_details, "IMAGE")
    audio_in = min(audio_in, uncached_input)
    image_in = min(image_in, uncached_input - audio_in)
    audio_out = min(_modality_count(output_details, "AUDIO"), candidates)
    image_out = min(_modality_count(output_details, "IMAGE"), candidates - audio_out)

    return Usage(
        input_tokens=input_tokens,
        cached_input_tokens=min(cached, input_tokens),
        output_tokens=output_tokens,
        reasoning_tokens=thoughts,
        audio_input_tokens=audio_in,
        image_input_tokens=image_in,
        audio_output_tokens=audio_out,
        image_output_tokens=image_out,
        tool_use_prompt_tokens=tool_use,
    )


def modality_name(value: Any) -> str | None:
    """Return the modality name of a details entry, which may be a name or an integer enum."""
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, int) and not isinstance(value, bool):
        return MODALITY_NAMES.get(value)
    return None


def _metadata_of(body: Any) -> Mapping[str, Any] | None:
    if not isinstance(body, Mapping):
        return None
    metadata = body.get("usageMetadata")
    if not isinstance(metadata, Mapping):
        return None
    if not any(key in metadata for key in _COUNT_KEYS):
        return None
    return metadata


def _count(metadata: Mapping[str, Any], key: str) -> int:
    value = metadata.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        message = f"usageMetadata.{key} must be an integer token count, got {value!r} ({type(value).__name__})"
        raise UsageError(message)
    if value < 0:
        message = f"usageMetadata.{key} must not be negative, got {value!r}"
        raise UsageError(message)
    return value


def _modality_count(details: Any, modality: str) -> int:
    if not isinstance(details, Sequence) or isinstance(details, (str, bytes)):
        return 0
    total = 0
    for entry in details:
        if not isinstance(entry, Mapping) or modality_name(entry.get("modality")) != modality:
            continue
        # An entry may come without tokenCount (seen for AUDIO in a video prompt): it counts 0.
        count = entry.get("tokenCount")
        if count is None:
            continue
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            message = f"usageMetadata {modality} tokenCount must be a non-negative integer, got {count!r}"
            raise UsageError(message)
        total += count
    return total


def _uncached_modality(prompt_details: Any, cache_details: Any, modality: str) -> int:
    return max(0, _modality_count(prompt_details, modality) - _modality_count(cache_details, modality))
