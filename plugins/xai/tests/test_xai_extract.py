"""Tests of the xAI usage extractor on small inline payloads and on the recorded bodies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from costkit import Usage, UsageError, extract_usage
from costkit.plugin.manager import PluginManager
from costkit.testing import expected_usage, usage_as_expected
from costkit_xai import TICKS_PER_USD, extract, ticks_to_usd


def chat_body(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Return a Chat Completions body around ``usage``."""
    body: dict[str, Any] = {
        "object": "chat.completion",
        "model": "grok-3-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


class TestChatCompletions:
    """Chat Completions usage: reasoning outside completion_tokens, cache inside the prompt."""

    def test_reasoning_added_to_output(self) -> None:
        """Reasoning tokens are added to completion_tokens, since xAI counts them apart."""
        usage = extract(
            chat_body(
                {
                    "prompt_tokens": 12,
                    "completion_tokens": 1,
                    "total_tokens": 241,
                    "completion_tokens_details": {"reasoning_tokens": 228},
                }
            ),
            stream=False,
        )
        assert usage is not None
        assert usage.output_tokens == 229
        assert usage.reasoning_tokens == 228
        assert usage.input_tokens == 12

    def test_reasoning_added_without_total(self) -> None:
        """Without total_tokens the xAI chat convention applies: reasoning is outside."""
        usage = extract(
            chat_body(
                {"prompt_tokens": 5, "completion_tokens": 3, "completion_tokens_details": {"reasoning_tokens": 7}}
            ),
            stream=False,
        )
        assert usage is not None
        assert usage.output_tokens == 10

    def test_reasoning_inside_when_total_says_so(self) -> None:
        """A total of prompt + completion means completion already includes reasoning."""
        usage = extract(
            chat_body(
                {
                    "prompt_tokens": 5,
                    "completion_tokens": 10,
                    "total_tokens": 15,
                    "completion_tokens_details": {"reasoning_tokens": 7},
                }
            ),
            stream=False,
        )
        assert usage is not None
        assert usage.output_tokens == 10
        assert usage.reasoning_tokens == 7

    def test_cached_tokens_inside_prompt(self) -> None:
        """Cached tokens stay a subset of the prompt tokens."""
        usage = extract(
            chat_body({"prompt_tokens": 175, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 161}}),
            stream=False,
        )
        assert usage is not None
        assert usage.input_tokens == 175
        assert usage.cached_input_tokens == 161

    def test_image_tokens_recorded(self) -> None:
        """Image prompt tokens are kept as a subset of the input."""
        usage = extract(
            chat_body(
                {
                    "prompt_tokens": 271,
                    "completion_tokens": 57,
                    "prompt_tokens_details": {"text_tokens": 15, "image_tokens": 256, "cached_tokens": 0},
                }
            ),
            stream=False,
        )
        assert usage is not None
        assert usage.image_input_tokens == 256
        assert usage.input_tokens == 271

    def test_ticks_become_reported_cost(self) -> None:
        """cost_in_usd_ticks becomes the provider-reported cost in exact USD."""
        usage = extract(
            chat_body({"prompt_tokens": 1, "completion_tokens": 1, "cost_in_usd_ticks": 113500}), stream=False
        )
        assert usage is not None
        assert usage.provider_reported_cost == Decimal(113500).scaleb(-10)
        assert str(usage.provider_reported_cost) == "0.00001135"

    def test_no_ticks_no_reported_cost(self) -> None:
        """A body without cost_in_usd_ticks has no provider-reported cost."""
        usage = extract(chat_body({"prompt_tokens": 1, "completion_tokens": 1}), stream=False)
        assert usage is not None
        assert usage.provider_reported_cost is None

    def test_null_details_are_zero(self) -> None:
        """Null detail objects and null counts read as 0."""
        usage = extract(
            chat_body(
                {
                    "prompt_tokens": 4,
                    "completion_tokens": 2,
                    "prompt_tokens_details": None,
                    "completion_tokens_details": {"reasoning_tokens": None},
                }
            ),
            stream=False,
        )
        assert usage == Usage(input_tokens=4, output_tokens=2)

    def test_no_usage_returns_none(self) -> None:
        """A body without usage yields None rather than zero counts."""
        assert extract(chat_body(None), stream=False) is None

    def test_non_object_returns_none(self) -> None:
        """A payload that is not a JSON object carries no usage."""
        assert extract(["not", "a", "body"], stream=False) is None

    def test_float_count_rejected(self) -> None:
        """A non-integer count raises UsageError."""
        with pytest.raises(UsageError, match="prompt_tokens"):
            extract(chat_body({"prompt_tokens": 1.5, "completion_tokens": 1}), stream=False)

    def test_negative_count_rejected(self) -> None:
        """A negative count raises UsageError."""
        with pytest.raises(UsageError):
            extract(chat_body({"prompt_tokens": -1, "completion_tokens": 1}), stream=False)

    def test_cached_above_prompt_rejected(self) -> None:
        """More cached tokens than prompt tokens is inconsistent."""
        with pytest.raises(UsageError):
            extract(
                chat_body({"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 4}}),
                stream=False,
            )


class TestResponsesAPI:
    """Responses API usage: reasoning inside output_tokens."""

    def test_reasoning_inside_output(self) -> None:
        """output_tokens already includes reasoning, so nothing is added."""
        usage = extract(
            {
                "object": "response",
                "usage": {
                    "input_tokens": 199,
                    "input_tokens_details": {"cached_tokens": 128},
                    "output_tokens": 184,
                    "output_tokens_details": {"reasoning_tokens": 181},
                    "total_tokens": 383,
                    "cost_in_usd_ticks": 5743500,
                },
            },
            stream=False,
        )
        assert usage is not None
        assert usage.output_tokens == 184
        assert usage.reasoning_tokens == 181
        assert usage.cached_input_tokens == 128
        assert usage.provider_reported_cost == Decimal("0.00057435")

    def test_reasoning_outside_when_total_says_so(self) -> None:
        """A total of input + output + reasoning means reasoning was counted apart."""
        usage = extract(
            {
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 2,
                    "output_tokens_details": {"reasoning_tokens": 8},
                    "total_tokens": 20,
                }
            },
            stream=False,
        )
        assert usage is not None
        assert usage.output_tokens == 10


class TestStreams:
    """Stream events: the last event that carries usage wins."""

    def test_chat_final_chunk(self) -> None:
        """A chat stream's usage comes from its final chunk with empty choices."""
        events = [
            {"choices": [{"index": 0, "delta": {"content": "Hello"}}], "model": "grok-3-mini"},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "model": "grok-3-mini"},
            {
                "choices": [],
                "model": "grok-3-mini",
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": 1,
                    "total_tokens": 303,
                    "completion_tokens_details": {"reasoning_tokens": 290},
                    "cost_in_usd_ticks": 1466250,
                },
            },
        ]
        usage = extract(events, stream=True)
        assert usage is not None
        assert usage.output_tokens == 291
        assert usage.provider_reported_cost == Decimal("0.000146625")

    def test_last_usage_wins(self) -> None:
        """When several chunks carry usage, the last one is taken, never a sum."""
        events = [
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4}},
        ]
        usage = extract(events, stream=True)
        assert usage is not None
        assert usage.output_tokens == 4
        assert usage.input_tokens == 5

    def test_responses_completed_event(self) -> None:
        """A Responses stream's usage comes from the response.completed event."""
        events = [
            {"type": "response.created", "response": {"model": "grok-4.3", "usage": None}},
            {"type": "response.output_text.delta", "delta": "1"},
            {
                "type": "response.completed",
                "response": {
                    "model": "grok-4.3",
                    "usage": {
                        "input_tokens": 199,
                        "output_tokens": 160,
                        "output_tokens_details": {"reasoning_tokens": 152},
                        "cost_in_usd_ticks": 5143500,
                    },
                },
            },
        ]
        usage = extract(events, stream=True)
        assert usage is not None
        assert usage.output_tokens == 160
        assert usage.provider_reported_cost == Decimal("0.00051435")

    def test_no_usage_returns_none(self) -> None:
        """A stream recorded without include_usage yields None."""
        events = [{"choices": [{"index": 0, "delta": {"content": "Hi"}}]}, {"choices": [], "usage": None}]
        assert extract(events, stream=True) is None

    def test_empty_stream_returns_none(self) -> None:
        """An empty event list carries no usage."""
        assert extract([], stream=True) is None


class TestTicks:
    """Conversion of cost_in_usd_ticks to USD."""

    def test_one_dollar(self) -> None:
        """10^10 ticks are exactly one dollar."""
        assert ticks_to_usd(TICKS_PER_USD) == Decimal(1)

    def test_whole_dollars_plain(self) -> None:
        """Whole-dollar charges print without an exponent."""
        assert str(ticks_to_usd(20 * TICKS_PER_USD)) == "20"

    def test_zero(self) -> None:
        """Zero ticks are zero dollars."""
        assert ticks_to_usd(0) == Decimal(0)

    def test_absent(self) -> None:
        """No ticks means no reported cost."""
        assert ticks_to_usd(None) is None

    @pytest.mark.parametrize("ticks", [1.5, "113500", -1, True])
    def test_invalid_rejected(self, ticks: object) -> None:
        """Ticks that are not a non-negative int raise UsageError."""
        with pytest.raises(UsageError, match="cost_in_usd_ticks"):
            ticks_to_usd(ticks)


class TestRecordedBodies:
    """Every recorded xAI body through costkit.extract_usage."""

    def test_every_body_matches_expected(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """Each recorded xai-* body extracts exactly to its expected usage."""
        table = expected_usage()
        names = sorted(name for name in table if name.startswith("xai-"))
        assert names
        for name in names:
            usage = extract_usage("xai", (recorded_payloads / name).read_bytes(), plugins=xai_manager)
            assert usage_as_expected(usage) == table[name]["usage"], name

    def test_reported_cost_equals_ticks(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """Each recorded reported cost equals the expected USD figure as a Decimal."""
        table = expected_usage()
        names = sorted(name for name in table if name.startswith("xai-") and table[name]["usage"])
        for name in names:
            usage = extract_usage("xai", (recorded_payloads / name).read_bytes(), plugins=xai_manager)
            assert usage is not None
            assert usage.provider_reported_cost == Decimal(table[name]["usage"]["provider_reported_cost_usd"]), name

    def test_reasoning_outside_completion(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """grok-3-mini chat: output is completion_tokens (294) plus reasoning_tokens (4254)."""
        body = (recorded_payloads / "xai-chat-completions-reasoning-01.json").read_bytes()
        usage = extract_usage("xai", body, plugins=xai_manager)
        assert usage is not None
        assert usage.output_tokens == 294 + 4254
        assert usage.reasoning_tokens == 4254

    def test_image_tokens_of_vision_body(self, recorded_payloads: Path, xai_manager: PluginManager) -> None:
        """The grok-2-vision body reports its 256 image tokens inside the 271 prompt tokens."""
        body = (recorded_payloads / "xai-chat-completions-image-input-01.json").read_bytes()
        usage = extract_usage("xai", body, plugins=xai_manager)
        assert usage is not None
        assert usage.image_input_tokens == 256
        assert usage.input_tokens == 271
