"""Unit tests of the Ollama usage extractor, with small inline bodies."""

from __future__ import annotations

from typing import Any

import pytest

from costkit import UsageError, extract_usage
from costkit.plugin.manager import PluginManager
from costkit.testing import expected_usage, load_body, usage_as_expected
from costkit_ollama import extract
from costkit_ollama._extract import durations, final_object


def _chat_final(**counts: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": True, **counts}


class TestExtractBody:
    """extract() on whole (non-streamed) bodies."""

    def test_chat_counts(self) -> None:
        """prompt_eval_count is input and eval_count is output."""
        usage = extract(_chat_final(prompt_eval_count=17, eval_count=66), stream=False)
        assert usage is not None
        assert usage.input_tokens == 17
        assert usage.output_tokens == 66
        assert usage.cached_input_tokens == 0

    def test_missing_prompt_count_is_zero(self) -> None:
        """A cached prompt without prompt_eval_count counts as 0 input tokens."""
        usage = extract(_chat_final(eval_count=79, prompt_eval_duration=149512000), stream=False)
        assert usage is not None
        assert usage.input_tokens == 0
        assert usage.output_tokens == 79

    def test_null_prompt_count_is_zero(self) -> None:
        """A null prompt_eval_count counts as 0 too."""
        usage = extract(_chat_final(prompt_eval_count=None, eval_count=3), stream=False)
        assert usage is not None
        assert usage.input_tokens == 0

    def test_cached_count_is_cached_input(self) -> None:
        """prompt_eval_cached_count is the cached part of the prompt."""
        usage = extract(_chat_final(prompt_eval_count=12, prompt_eval_cached_count=4, eval_count=9), stream=False)
        assert usage is not None
        assert usage.input_tokens == 12
        assert usage.cached_input_tokens == 4

    def test_cached_without_prompt_count(self) -> None:
        """A fully cached prompt reported only as cached counts as input, never fails."""
        usage = extract(_chat_final(prompt_eval_cached_count=30, eval_count=2), stream=False)
        assert usage is not None
        assert usage.input_tokens == 30
        assert usage.cached_input_tokens == 30

    def test_cached_above_prompt_rejected(self) -> None:
        """A cached count above a present prompt count is inconsistent and raises UsageError."""
        with pytest.raises(UsageError):
            extract(_chat_final(prompt_eval_count=3, prompt_eval_cached_count=5, eval_count=1), stream=False)

    def test_done_without_counts(self) -> None:
        """A final object without any count (a model load) is zero usage, not missing usage."""
        usage = extract({"model": "llama3.2", "done": True, "done_reason": "load"}, stream=False)
        assert usage is not None
        assert usage.total_tokens == 0

    def test_embed_counts(self) -> None:
        """/api/embed reports its input as prompt_eval_count."""
        body = {"model": "nomic-embed-text", "embeddings": [[0.1, 0.2]], "prompt_eval_count": 2}
        usage = extract(body, stream=False)
        assert usage is not None
        assert usage.input_tokens == 2
        assert usage.output_tokens == 0

    def test_legacy_embeddings_no_usage(self) -> None:
        """The legacy /api/embeddings body carries no usage."""
        assert extract({"embedding": [0.1, 0.2, 0.3]}, stream=False) is None

    def test_partial_object_no_usage(self) -> None:
        """A chunk that is not final carries no usage."""
        body = {"model": "llama3.2", "response": "Hi", "done": False}
        assert extract(body, stream=False) is None

    def test_not_an_object_no_usage(self) -> None:
        """A body that is not a JSON object carries no usage."""
        assert extract("Ollama is running", stream=False) is None

    def test_negative_count_rejected(self) -> None:
        """A negative count raises UsageError."""
        with pytest.raises(UsageError):
            extract(_chat_final(prompt_eval_count=-1, eval_count=2), stream=False)

    def test_float_count_rejected(self) -> None:
        """A count that is not an int raises UsageError."""
        with pytest.raises(UsageError):
            extract(_chat_final(prompt_eval_count=3, eval_count=2.5), stream=False)

    def test_string_count_rejected(self) -> None:
        """A count sent as a string raises UsageError, not TypeError."""
        with pytest.raises(UsageError):
            extract(_chat_final(prompt_eval_count="3", prompt_eval_cached_count=1, eval_count=2), stream=False)


class TestExtractStream:
    """extract() on lists of decoded NDJSON objects."""

    def test_counts_from_final_object(self) -> None:
        """The counts come from the final done object only."""
        events = [
            {"model": "gemma3:1b", "response": "Hel", "done": False},
            {"model": "gemma3:1b", "response": "lo", "done": False},
            {"model": "gemma3:1b", "response": "", "done": True, "prompt_eval_count": 16, "eval_count": 22},
        ]
        usage = extract(events, stream=True)
        assert usage is not None
        assert usage.input_tokens == 16
        assert usage.output_tokens == 22

    def test_final_without_prompt_count(self) -> None:
        """A streamed cached prompt counts as 0 input tokens."""
        events = [
            {"model": "llama3", "response": "A", "done": False},
            {"model": "llama3", "response": "", "done": True, "prompt_eval_duration": 33781000, "eval_count": 58},
        ]
        usage = extract(events, stream=True)
        assert usage is not None
        assert usage.input_tokens == 0
        assert usage.output_tokens == 58

    def test_cut_off_stream_no_usage(self) -> None:
        """A stream that ended before its final object carries no usage."""
        events = [{"model": "llama3", "response": "A", "done": False}]
        assert extract(events, stream=True) is None

    def test_pull_progress_no_usage(self) -> None:
        """A pull progress stream carries no usage."""
        events = [
            {"status": "pulling manifest"},
            {"status": "pulling 7cd4618c1faf", "digest": "sha256:7cd4", "total": 815310432, "completed": 815310432},
            {"status": "success"},
        ]
        assert extract(events, stream=True) is None

    def test_empty_stream_no_usage(self) -> None:
        """An empty list of events carries no usage."""
        assert extract([], stream=True) is None

    def test_error_object_skipped(self) -> None:
        """An error object after the text is no usage."""
        events = [{"model": "llama3", "response": "A", "done": False}, {"error": "out of memory"}]
        assert extract(events, stream=True) is None

    def test_final_object_ignores_non_objects(self) -> None:
        """final_object() skips values that are not objects."""
        events = [{"done": True, "eval_count": 1}, "noise"]
        assert final_object(events) == {"done": True, "eval_count": 1}


def test_durations_keeps_nanoseconds() -> None:
    """durations() returns the four timings that are present, as given."""
    body = {"total_duration": 10, "load_duration": 2, "eval_duration": 5, "eval_count": 3}
    assert durations(body) == {"total_duration": 10, "load_duration": 2, "eval_duration": 5}


class TestRecorded:
    """extract_usage through the plugin manager on recorded bodies."""

    @pytest.mark.parametrize(
        "name",
        [
            "ollama-api-chat-no-prompt-eval-count-01.json",
            "ollama-api-generate-stream-no-prompt-eval-count-01.ndjson",
            "ollama-api-embed-plain-01.json",
            "ollama-api-embeddings-legacy-01.json",
            "ollama-api-pull-stream-progress-01.ndjson",
            "ollama-api-chat-stream-think-01.ndjson",
        ],
    )
    def test_recorded_case(self, name: str, ollama_manager: PluginManager, recorded_payloads: object) -> None:
        """Each hard recorded case extracts to its expected usage."""
        usage = extract_usage("ollama", load_body(name), plugins=ollama_manager)
        assert usage_as_expected(usage) == expected_usage(name)["usage"]
