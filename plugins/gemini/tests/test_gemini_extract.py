"""Tests of the Gemini usage extractor on small inline payloads."""

from __future__ import annotations

from typing import Any

import pytest

from costkit import Usage, UsageError
from costkit_gemini import extract


def body(**metadata: Any) -> dict[str, Any]:
    """Wrap usage counts in a minimal generateContent body."""
    return {"candidates": [], "usageMetadata": metadata, "modelVersion": "gemini-2.5-flash"}


class TestExtractBody:
    """extract() on whole (non-streamed) bodies."""

    def test_plain_counts(self) -> None:
        """Prompt and candidate counts become input and output."""
        usage = extract(body(promptTokenCount=12, candidatesTokenCount=30, totalTokenCount=42), stream=False)
        assert usage == Usage(input_tokens=12, output_tokens=30)

    def test_thoughts_are_output(self) -> None:
        """Thinking tokens are added to output and reported as reasoning."""
        usage = extract(body(promptTokenCount=9, candidatesTokenCount=29, thoughtsTokenCount=282), stream=False)
        assert usage is not None
        assert usage.output_tokens == 311
        assert usage.reasoning_tokens == 282

    def test_cached_inside_prompt(self) -> None:
        """Cached tokens are a subset of the prompt count, not added to it."""
        usage = extract(
            body(promptTokenCount=9622, cachedContentTokenCount=9609, candidatesTokenCount=35), stream=False
        )
        assert usage is not None
        assert usage.input_tokens == 9622
        assert usage.cached_input_tokens == 9609

    def test_tool_use_prompt_added(self) -> None:
        """Tool-use prompt tokens are extra input and reported on their own."""
        usage = extract(body(promptTokenCount=10, toolUsePromptTokenCount=73, candidatesTokenCount=30), stream=False)
        assert usage is not None
        assert usage.input_tokens == 83
        assert usage.tool_use_prompt_tokens == 73

    def test_audio_input_modality(self) -> None:
        """AUDIO prompt details become audio input tokens."""
        metadata = {
            "promptTokenCount": 125,
            "candidatesTokenCount": 10,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 6}, {"modality": "AUDIO", "tokenCount": 119}],
        }
        usage = extract(body(**metadata), stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 119
        assert usage.image_input_tokens == 0

    def test_cached_audio_not_counted(self) -> None:
        """Cached audio is left out of the audio count, so it is billed at the cached rate."""
        metadata = {
            "promptTokenCount": 2000,
            "cachedContentTokenCount": 1900,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 1917}, {"modality": "TEXT", "tokenCount": 83}],
            "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 1881}, {"modality": "TEXT", "tokenCount": 19}],
        }
        usage = extract(body(**metadata), stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 36

    def test_integer_modality_enum(self) -> None:
        """Integer modalities (enum-encoding=int) are read by their enum value."""
        metadata = {
            "promptTokenCount": 50,
            "candidatesTokenCount": 9,
            "promptTokensDetails": [{"modality": 1, "tokenCount": 10}, {"modality": 4, "tokenCount": 40}],
            "candidatesTokensDetails": [{"modality": 1, "tokenCount": 9}],
        }
        usage = extract(body(**metadata), stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 40
        assert usage.input_tokens == 50

    def test_modality_without_count(self) -> None:
        """A details entry without tokenCount counts as zero."""
        metadata = {
            "promptTokenCount": 268,
            "promptTokensDetails": [{"modality": "AUDIO"}, {"modality": "VIDEO", "tokenCount": 258}],
        }
        usage = extract(body(**metadata), stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 0
        assert usage.input_tokens == 268

    def test_output_modalities(self) -> None:
        """AUDIO and IMAGE candidate details become audio and image output tokens."""
        audio = extract(
            body(candidatesTokenCount=111, candidatesTokensDetails=[{"modality": "AUDIO", "tokenCount": 111}]),
            stream=False,
        )
        image = extract(
            body(candidatesTokenCount=1518, candidatesTokensDetails=[{"modality": "IMAGE", "tokenCount": 1120}]),
            stream=False,
        )
        assert audio is not None
        assert audio.audio_output_tokens == 111
        assert image is not None
        assert image.image_output_tokens == 1120

    def test_inconsistent_details_clamped(self) -> None:
        """Modality details larger than the totals are clamped instead of rejected."""
        metadata = {"promptTokenCount": 10, "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 99}]}
        usage = extract(body(**metadata), stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 10

    def test_embedding_prompt_details(self) -> None:
        """batchEmbedContents usage (promptTokenDetails, singular) is input only."""
        payload = {
            "embeddings": [{"values": [0.1, 0.2]}],
            "usageMetadata": {
                "promptTokenCount": 261,
                "promptTokenDetails": [{"modality": "IMAGE", "tokenCount": 258}, {"modality": "TEXT", "tokenCount": 3}],
            },
        }
        usage = extract(payload, stream=False)
        assert usage == Usage(input_tokens=261, image_input_tokens=258)

    def test_no_usage_is_none(self) -> None:
        """A body without usageMetadata has no usage."""
        assert extract({"embeddings": [{"values": [0.1]}]}, stream=False) is None

    def test_count_tokens_is_none(self) -> None:
        """A countTokens body (totalTokens only) has no usage."""
        assert extract({"totalTokens": 8, "promptTokensDetails": []}, stream=False) is None

    def test_total_only_is_none(self) -> None:
        """usageMetadata carrying only totalTokenCount has no usage."""
        assert extract({"usageMetadata": {"totalTokenCount": 5}}, stream=False) is None

    def test_non_object_is_none(self) -> None:
        """A body that is not a JSON object has no usage."""
        assert extract("not json", stream=False) is None

    @pytest.mark.parametrize("value", [-1, 1.5, "12", True])
    def test_invalid_count_rejected(self, value: Any) -> None:
        """Negative, fractional, string and boolean counts raise UsageError."""
        with pytest.raises(UsageError, match="promptTokenCount"):
            extract(body(promptTokenCount=value), stream=False)

    def test_invalid_modality_count_rejected(self) -> None:
        """A negative modality count raises UsageError."""
        metadata = {"promptTokenCount": 5, "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": -3}]}
        with pytest.raises(UsageError, match="AUDIO"):
            extract(body(**metadata), stream=False)


class TestExtractStream:
    """extract() on lists of stream chunks."""

    def test_last_chunk_wins(self) -> None:
        """The running total of the last chunk is the usage; chunks are never summed."""
        chunks = [
            body(promptTokenCount=15, totalTokenCount=15),
            body(promptTokenCount=15, totalTokenCount=15),
            body(promptTokenCount=13, candidatesTokenCount=8, totalTokenCount=21),
        ]
        assert extract(chunks, stream=True) == Usage(input_tokens=13, output_tokens=8)

    def test_early_chunk_without_candidates(self) -> None:
        """A chunk without candidatesTokenCount has zero output so far."""
        usage = extract([body(promptTokenCount=9, totalTokenCount=9)], stream=True)
        assert usage == Usage(input_tokens=9)

    def test_trailing_chunk_without_usage(self) -> None:
        """Chunks without usageMetadata after the last usage are skipped."""
        chunks = [body(promptTokenCount=4, candidatesTokenCount=2), {"candidates": []}]
        assert extract(chunks, stream=True) == Usage(input_tokens=4, output_tokens=2)

    def test_no_usage_is_none(self) -> None:
        """A stream whose chunks carry no usage has none."""
        assert extract([{"candidates": []}, {"candidates": []}], stream=True) is None

    def test_empty_stream_is_none(self) -> None:
        """A stream with no chunks has no usage."""
        assert extract([], stream=True) is None

    def test_error_chunk_skipped(self) -> None:
        """An error chunk carries no usage and does not hide an earlier one."""
        chunks = [body(promptTokenCount=3, candidatesTokenCount=1), {"error": {"code": 503}}]
        assert extract(chunks, stream=True) == Usage(input_tokens=3, output_tokens=1)

    def test_array_body_without_stream_flag(self) -> None:
        """A JSON-array stream decoded as one body is read as chunks."""
        chunks = [body(promptTokenCount=8, candidatesTokenCount=1), body(promptTokenCount=8, candidatesTokenCount=9)]
        assert extract(chunks, stream=False) == Usage(input_tokens=8, output_tokens=9)
