"""Unit tests of the OpenAI usage extractor on small inline payloads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costkit import Usage, UsageError
from costkit_openai._extract import extract


class TestChatCompletions:
    def test_plain_counts(self) -> None:
        """prompt_tokens and completion_tokens become input and output."""
        usage = extract({"usage": {"prompt_tokens": 13, "completion_tokens": 31, "total_tokens": 44}}, stream=False)
        assert usage == Usage(input_tokens=13, output_tokens=31)

    def test_cached_tokens_inside_prompt(self) -> None:
        """Cached tokens stay part of input_tokens and are also counted as cache reads."""
        payload = {
            "usage": {
                "prompt_tokens": 1149,
                "completion_tokens": 353,
                "prompt_tokens_details": {"cached_tokens": 1024},
            }
        }
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.input_tokens == 1149
        assert usage.cached_input_tokens == 1024

    def test_reasoning_tokens_inside_completion(self) -> None:
        """Reasoning tokens stay part of output_tokens, never added on top."""
        payload = {
            "usage": {
                "prompt_tokens": 13,
                "completion_tokens": 413,
                "completion_tokens_details": {"reasoning_tokens": 384},
            }
        }
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.output_tokens == 413
        assert usage.reasoning_tokens == 384

    def test_cache_write_tokens(self) -> None:
        """prompt_tokens_details.cache_write_tokens become cache_write_tokens."""
        payload = {
            "usage": {
                "prompt_tokens": 4020,
                "completion_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 4012},
            }
        }
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.cache_write_tokens == 4012
        assert usage.cached_input_tokens == 0

    def test_audio_and_image_tokens(self) -> None:
        """Audio and image token details fill the modality counts."""
        payload = {
            "usage": {
                "prompt_tokens": 64,
                "completion_tokens": 30,
                "prompt_tokens_details": {"audio_tokens": 44, "image_tokens": 10, "text_tokens": 10},
                "completion_tokens_details": {"audio_tokens": 20, "text_tokens": 10},
            }
        }
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.audio_input_tokens == 44
        assert usage.image_input_tokens == 10
        assert usage.audio_output_tokens == 20

    def test_null_details(self) -> None:
        """Null detail objects and null counts read as zero."""
        payload = {
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": None,
                "prompt_tokens_details": None,
                "completion_tokens_details": {"reasoning_tokens": None},
            }
        }
        assert extract(payload, stream=False) == Usage(input_tokens=5)

    def test_no_usage(self) -> None:
        """A body without usage returns None."""
        assert extract({"id": "chatcmpl-1", "choices": []}, stream=False) is None

    def test_non_object_body(self) -> None:
        """A body that is not a JSON object returns None."""
        assert extract(["not", "an", "object"], stream=False) is None

    def test_negative_count_rejected(self) -> None:
        """A negative count raises UsageError."""
        with pytest.raises(UsageError):
            extract({"usage": {"prompt_tokens": -1, "completion_tokens": 2}}, stream=False)

    def test_float_count_rejected(self) -> None:
        """A fractional count raises UsageError."""
        with pytest.raises(UsageError):
            extract({"usage": {"prompt_tokens": 1.5, "completion_tokens": 2}}, stream=False)


class TestEmbeddings:
    def test_prompt_tokens_only(self) -> None:
        """An embeddings body bills prompt tokens and has no output."""
        usage = extract({"object": "list", "usage": {"prompt_tokens": 4, "total_tokens": 4}}, stream=False)
        assert usage == Usage(input_tokens=4, output_tokens=0)


class TestResponsesAPI:
    def test_counts_and_details(self) -> None:
        """input/output tokens and their details map onto the normalised fields."""
        payload = {
            "object": "response",
            "usage": {
                "input_tokens": 9299,
                "input_tokens_details": {"cached_tokens": 8448},
                "output_tokens": 577,
                "output_tokens_details": {"reasoning_tokens": 512},
                "total_tokens": 9876,
            },
        }
        usage = extract(payload, stream=False)
        assert usage == Usage(input_tokens=9299, cached_input_tokens=8448, output_tokens=577, reasoning_tokens=512)

    def test_cache_write_tokens(self) -> None:
        """input_tokens_details.cache_write_tokens become cache_write_tokens."""
        payload = {
            "usage": {
                "input_tokens": 4020,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 4012},
                "output_tokens": 5,
            }
        }
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.cache_write_tokens == 4012


class TestStreams:
    def test_chat_final_usage_chunk(self) -> None:
        """The usage of the final chunk with empty choices is the stream's usage."""
        events = [
            {"choices": [{"delta": {"content": "Hi"}}], "usage": None},
            {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": None},
            {"choices": [], "usage": {"prompt_tokens": 16, "completion_tokens": 300}},
        ]
        assert extract(events, stream=True) == Usage(input_tokens=16, output_tokens=300)

    def test_chat_without_usage(self) -> None:
        """A chat stream sent without include_usage returns None."""
        events = [{"choices": [{"delta": {"content": "Hi"}}]}, {"choices": [{"delta": {}, "finish_reason": "stop"}]}]
        assert extract(events, stream=True) is None

    def test_responses_completed_event(self) -> None:
        """The response.completed event carries the usage of a Responses API stream."""
        events = [
            {"type": "response.created", "response": {"usage": None}},
            {"type": "response.output_text.delta", "delta": "Hi"},
            {
                "type": "response.completed",
                "response": {
                    "usage": {
                        "input_tokens": 13,
                        "output_tokens": 284,
                        "output_tokens_details": {"reasoning_tokens": 256},
                    }
                },
            },
        ]
        assert extract(events, stream=True) == Usage(input_tokens=13, output_tokens=284, reasoning_tokens=256)

    def test_responses_incomplete_event(self) -> None:
        """A response cut short by max_output_tokens still reports its usage."""
        events = [
            {
                "type": "response.incomplete",
                "response": {"usage": {"input_tokens": 10, "output_tokens": 16}},
            }
        ]
        assert extract(events, stream=True) == Usage(input_tokens=10, output_tokens=16)

    def test_empty_stream(self) -> None:
        """A stream with no events returns None."""
        assert extract([], stream=True) is None

    def test_non_object_events_skipped(self) -> None:
        """Events that are not objects are ignored."""
        events = ["noise", {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}]
        assert extract(events, stream=True) == Usage(input_tokens=1, output_tokens=1)


class TestReportedCost:
    def test_openrouter_cost(self) -> None:
        """usage.cost becomes an exact Decimal without float noise."""
        payload = {"usage": {"prompt_tokens": 57, "completion_tokens": 17, "cost": 7.159e-05}}
        usage = extract(payload, stream=False)
        assert usage is not None
        assert usage.provider_reported_cost == Decimal("0.00007159")

    def test_cost_zero(self) -> None:
        """A zero cost is kept as a reported cost of 0, not dropped."""
        usage = extract({"usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": 0}}, stream=False)
        assert usage is not None
        assert usage.provider_reported_cost == Decimal(0)

    def test_no_cost(self) -> None:
        """Without usage.cost there is no reported cost."""
        usage = extract({"usage": {"prompt_tokens": 1, "completion_tokens": 1}}, stream=False)
        assert usage is not None
        assert usage.provider_reported_cost is None

    def test_invalid_cost(self) -> None:
        """A cost that is not a number raises UsageError."""
        with pytest.raises(UsageError):
            extract({"usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": {"usd": 1}}}, stream=False)

    def test_negative_cost(self) -> None:
        """A negative cost raises UsageError."""
        with pytest.raises(UsageError):
            extract({"usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": -0.5}}, stream=False)
