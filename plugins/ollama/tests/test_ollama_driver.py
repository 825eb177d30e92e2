"""The Ollama driver end to end through httpx.MockTransport: requests, responses, streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from costkit import ConfigurationError, Message, Request
from costkit.testing import load_body, replay_transport
from costkit_ollama import OllamaDriver

CHAT = "ollama-api-chat-plain-01.json"
GENERATE = "ollama-api-generate-plain-01.json"
CHAT_STREAM = "ollama-api-chat-stream-plain-01.ndjson"
GENERATE_STREAM = "ollama-api-generate-stream-plain-01.ndjson"
CACHED_STREAM = "ollama-api-generate-stream-no-prompt-eval-count-01.ndjson"
EMBED = "ollama-api-embed-plain-01.json"


def _request(operation: str = "chat", **fields: Any) -> Request:
    fields.setdefault("messages", "Why is the sky blue?")
    return Request(provider="ollama", model=fields.pop("model", "llama3.2"), operation=operation, **fields)


def _json_transport(body: Any, *, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


class _Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in fixed-size pieces, to sync and async clients alike."""

    def __init__(self, body: bytes, size: int) -> None:
        self._pieces = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Any:
        yield from self._pieces

    async def __aiter__(self) -> Any:
        for piece in self._pieces:
            yield piece


def _chunked_transport(path: str, name: str, size: int) -> httpx.MockTransport:
    """Serve one recorded body in pieces of ``size`` bytes.

    NOTE: replay_transport(chunk_size=...) passes its pieces as ``content=``, which httpx
    wraps as a sync-only stream, so an async client cannot read it; this transport passes
    them as ``stream=``.
    """
    body = load_body(name)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != path:
            return httpx.Response(599, text=f"no recorded body for {request.url.path}")
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, stream=_Pieces(body, size))

    return httpx.MockTransport(handle)


def _sent_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def recorded(recorded_payloads: object) -> None:
    """Skip the test where the recorded payloads are absent."""


# --- Whole responses ------------------------------------------------------------------------


@pytest.mark.usefixtures("recorded")
class TestSend:
    """send() and asend() with recorded bodies."""

    def test_chat_text_and_usage(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A chat response gives its text, usage, model and stop reason."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({"/api/chat": CHAT}, requests=seen))
        response = driver.send(_request(model="llama3"))
        assert response.text.startswith("A joke about OpenTelemetry!")
        assert response.usage is not None
        assert response.usage.input_tokens == 17
        assert response.usage.output_tokens == 66
        assert response.usage.estimated is False
        assert response.model == "llama3"
        assert response.finish_reason == "stop"
        assert seen[0].url == "http://127.0.0.1:11434/api/chat"

    def test_chat_durations_in_metadata(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The nanosecond timings of the response are kept in the metadata."""
        driver = make_driver(replay_transport({"/api/chat": CHAT}))
        response = driver.send(_request(model="llama3"))
        assert response.metadata["total_duration"] == 10386172208
        assert response.metadata["load_duration"] == 8078850750
        assert response.metadata["prompt_eval_duration"] == 175861000
        assert response.metadata["eval_duration"] == 2127200000

    def test_chat_cached_prompt(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A response without prompt_eval_count has 0 input tokens and is not estimated."""
        driver = make_driver(replay_transport({"/api/chat": "ollama-api-chat-no-prompt-eval-count-01.json"}))
        response = driver.send(_request(model="llama3"))
        assert response.usage is not None
        assert response.usage.input_tokens == 0
        assert response.usage.output_tokens == 79
        assert response.usage.estimated is False

    def test_generate(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A generate response reads the response field."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({"/api/generate": GENERATE}, requests=seen))
        response = driver.send(_request("generate", model="gemma3:1b"))
        assert response.text.startswith("Hello there!")
        assert response.usage is not None
        assert response.usage.input_tokens == 15
        assert response.usage.output_tokens == 65
        assert response.model == "gemma3:1b"
        assert seen[0].url.path == "/api/generate"

    def test_embed(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An embed response has no text, its input count, and the vectors in raw."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({"/api/embed": EMBED}, requests=seen))
        response = driver.send(_request("embed", model="nomic-embed-text", messages="hello"))
        assert response.text == ""
        assert response.usage is not None
        assert response.usage.input_tokens == 2
        assert len(response.raw["embeddings"]) == 1
        assert _sent_body(seen[0]) == {"model": "nomic-embed-text", "input": "hello"}

    def test_async_chat(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """asend() gives the same response as send()."""
        driver = make_driver(replay_transport({"/api/chat": CHAT}))

        async def run() -> Any:
            try:
                return await driver.asend(_request(model="llama3"))
            finally:
                await driver.aclose()

        response = asyncio.run(run())
        assert response.text.startswith("A joke about OpenTelemetry!")
        assert response.usage is not None
        assert response.usage.input_tokens == 17
        assert response.usage.output_tokens == 66

    def test_async_generate(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """asend() reads a generate response."""
        driver = make_driver(replay_transport({"/api/generate": "ollama-api-generate-plain-02.json"}))
        response = asyncio.run(driver.asend(_request("generate", model="llama3.2:3b")))
        assert response.usage is not None
        assert response.usage.input_tokens == 39
        assert response.usage.output_tokens == 23


def test_send_thinking_and_tool_calls(make_driver: Callable[..., OllamaDriver]) -> None:
    """Thinking text and tool calls of a chat response are kept in the metadata."""
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    body = {
        "model": "qwen3",
        "message": {"role": "assistant", "content": "", "thinking": "Need the weather.", "tool_calls": [call]},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 40,
        "eval_count": 12,
    }
    response = make_driver(_json_transport(body)).send(_request(model="qwen3"))
    assert response.metadata["thinking"] == "Need the weather."
    assert response.metadata["tool_calls"] == [call]


# --- Streams --------------------------------------------------------------------------------


@pytest.mark.usefixtures("recorded")
class TestStream:
    """stream() and astream() with recorded NDJSON bodies."""

    @pytest.mark.parametrize("chunk_size", [None, 7])
    def test_chat_stream(self, make_driver: Callable[..., OllamaDriver], chunk_size: int | None) -> None:
        """A chat stream yields the text and ends with the final object's usage."""
        driver = make_driver(replay_transport({"/api/chat": CHAT_STREAM}, chunk_size=chunk_size))
        with driver.stream(_request(model="gemma3:1b")) as stream:
            text = "".join(chunk.text for chunk in stream)
        response = stream.response
        assert response is not None
        assert text.startswith("Okay, here")
        assert response.text == text
        assert response.status == "complete"
        assert response.streamed is True
        assert response.usage is not None
        assert response.usage.input_tokens == 16
        assert response.usage.output_tokens == 22
        assert response.usage.estimated is False
        assert response.finish_reason == "stop"
        assert response.model == "gemma3:1b"
        assert response.metadata["eval_duration"] == 105611917

    @pytest.mark.parametrize("chunk_size", [None, 5])
    def test_generate_stream(self, make_driver: Callable[..., OllamaDriver], chunk_size: int | None) -> None:
        """A generate stream yields the response text and its usage."""
        seen: list[httpx.Request] = []
        transport = replay_transport({"/api/generate": GENERATE_STREAM}, requests=seen, chunk_size=chunk_size)
        stream = make_driver(transport).stream(_request("generate", model="gemma3:1b"))
        chunks = list(stream)
        response = stream.response
        assert response is not None
        assert len(chunks) == 22
        assert response.text.startswith("Okay, here")
        assert response.usage is not None
        assert response.usage.input_tokens == 16
        assert response.usage.output_tokens == 22
        assert response.metadata["total_duration"] == 190084083
        assert _sent_body(seen[0])["stream"] is True

    def test_stream_cached_prompt(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A stream whose final object lacks prompt_eval_count has 0 input tokens."""
        stream = make_driver(replay_transport({"/api/generate": CACHED_STREAM})).stream(
            _request("generate", model="llama3")
        )
        list(stream)
        assert stream.response is not None
        assert stream.response.usage is not None
        assert stream.response.usage.input_tokens == 0
        assert stream.response.usage.output_tokens == 58
        assert stream.response.usage.estimated is False

    @pytest.mark.parametrize(
        ("path", "name", "operation"),
        [("/api/chat", CHAT_STREAM, "chat"), ("/api/generate", GENERATE_STREAM, "generate")],
    )
    def test_async_stream(self, make_driver: Callable[..., OllamaDriver], path: str, name: str, operation: str) -> None:
        """astream() yields the same text and usage as stream()."""
        driver = make_driver(_chunked_transport(path, name, 11))

        async def run() -> tuple[str, Any]:
            async with driver.astream(_request(operation, model="gemma3:1b")) as stream:
                text = "".join([chunk.text async for chunk in stream])
            await driver.aclose()
            return text, stream.response

        text, response = asyncio.run(run())
        assert text.startswith("Okay, here")
        assert response is not None
        assert response.status == "complete"
        assert response.usage is not None
        assert response.usage.input_tokens == 16
        assert response.usage.output_tokens == 22

    def test_closed_early(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A stream closed before its final object ends as closed, with estimated usage."""
        transport = replay_transport({"/api/chat": CHAT_STREAM}, chunk_size=40)
        stream = make_driver(transport).stream(_request(model="gemma3:1b"))
        first = next(stream)
        second = next(stream)
        stream.close()
        response = stream.response
        assert response is not None
        assert response.status == "closed"
        assert response.text == first.text + second.text
        assert response.usage is not None
        assert response.usage.estimated is True
        assert response.finish_reason is None

    def test_closed_after_final(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A stream closed after its final object arrived keeps the real usage."""
        stream = make_driver(replay_transport({"/api/chat": CHAT_STREAM})).stream(_request(model="gemma3:1b"))
        next(stream)
        stream.close()
        response = stream.response
        assert response is not None
        assert response.status == "closed"
        assert response.usage is not None
        assert response.usage.estimated is False
        assert response.usage.output_tokens == 22

    def test_async_closed_early(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An async stream closed early ends as closed, with estimated usage."""
        driver = make_driver(_chunked_transport("/api/generate", GENERATE_STREAM, 40))

        async def run() -> Any:
            stream = driver.astream(_request("generate", model="gemma3:1b"))
            await stream.__anext__()
            await stream.aclose()
            await driver.aclose()
            return stream.response

        response = asyncio.run(run())
        assert response is not None
        assert response.status == "closed"
        assert response.text == "Okay"
        assert response.usage is not None
        assert response.usage.estimated is True


def test_stream_thinking_collected(make_driver: Callable[..., OllamaDriver]) -> None:
    """Thinking deltas of a chat stream are joined in the metadata, apart from the text."""
    lines = [
        {"model": "qwen3", "message": {"role": "assistant", "content": "", "thinking": "Two plus "}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": "", "thinking": "two."}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": "4"}, "done": False},
        {"model": "qwen3", "message": {"role": "assistant", "content": ""}, "done": True, "eval_count": 6},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
    stream = make_driver(transport).stream(_request(model="qwen3"))
    text = "".join(chunk.text for chunk in stream)
    assert text == "4"
    assert stream.response is not None
    assert stream.response.metadata["thinking"] == "Two plus two."


# --- Request bodies -------------------------------------------------------------------------


class TestRequestBody:
    """What the driver sends."""

    def _send(self, make_driver: Callable[..., OllamaDriver], request: Request) -> Any:
        seen: list[httpx.Request] = []
        body = {"model": request.model, "message": {"content": "ok"}, "response": "ok", "done": True}
        make_driver(_json_transport(body, seen=seen)).send(request)
        assert len(seen) == 1
        return _sent_body(seen[0])

    def test_chat_body(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A chat request sends the model, the messages and stream false."""
        messages = (Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hello"))
        sent = self._send(make_driver, _request(messages=messages))
        assert sent["model"] == "llama3.2"
        assert sent["stream"] is False
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
        assert "options" not in sent

    def test_max_output_tokens_to_num_predict(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """max_output_tokens becomes options.num_predict."""
        sent = self._send(make_driver, _request(max_output_tokens=64))
        assert sent["options"] == {"num_predict": 64}

    def test_options_passed_through(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """request.options reach the body as given, merged with num_predict."""
        options = {"options": {"temperature": 0, "num_ctx": 4096}, "keep_alive": "5m", "think": True}
        sent = self._send(make_driver, _request(max_output_tokens=10, options=options))
        assert sent["options"] == {"temperature": 0, "num_ctx": 4096, "num_predict": 10}
        assert sent["keep_alive"] == "5m"
        assert sent["think"] is True

    def test_max_output_tokens_wins(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """max_output_tokens replaces a num_predict given in the options."""
        sent = self._send(make_driver, _request(max_output_tokens=10, options={"options": {"num_predict": 999}}))
        assert sent["options"]["num_predict"] == 10

    def test_options_num_predict_kept(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A num_predict in the options stays when max_output_tokens is not set."""
        sent = self._send(make_driver, _request(options={"options": {"num_predict": 999}}))
        assert sent["options"]["num_predict"] == 999

    def test_options_cannot_override_stream(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The driver decides stream and model, whatever the options contain."""
        sent = self._send(make_driver, _request(options={"stream": True, "model": "other"}))
        assert sent["stream"] is False
        assert sent["model"] == "llama3.2"

    def test_invalid_model_options(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """Model options that are not a dict raise ConfigurationError when num_predict is merged."""
        driver = make_driver(_json_transport({}))
        with pytest.raises(ConfigurationError, match="must be a dict"):
            driver.send(_request(max_output_tokens=5, options={"options": ["temperature", 0]}))

    def test_generate_body(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A generate request sends the user text as prompt and system messages as system."""
        messages = (Message("system", "Answer in French."), Message("user", "Hello"), Message("user", "Again"))
        sent = self._send(make_driver, _request("generate", messages=messages))
        assert sent["prompt"] == "Hello\n\nAgain"
        assert sent["system"] == "Answer in French."
        assert sent["stream"] is False
        assert "messages" not in sent

    def test_generate_without_system(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A generate request without a system message sends no system field."""
        sent = self._send(make_driver, _request("generate"))
        assert sent["prompt"] == "Why is the sky blue?"
        assert "system" not in sent

    def test_generate_rejects_assistant(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A generate request with assistant messages raises ConfigurationError."""
        messages = (Message("user", "Hi"), Message("assistant", "Hello"))
        driver = make_driver(_json_transport({}))
        with pytest.raises(ConfigurationError, match="operation='chat'"):
            driver.send(_request("generate", messages=messages))

    def test_embed_many_inputs(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An embed request with several messages sends them as a list, without stream."""
        messages = (Message("user", "one"), Message("user", "two"))
        sent = self._send(make_driver, _request("embed", messages=messages, max_output_tokens=5))
        assert sent["input"] == ["one", "two"]
        assert "stream" not in sent
        assert "options" not in sent

    def test_embed_stream_rejected(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """Streaming an embed request raises ConfigurationError."""
        driver = make_driver(_json_transport({}))
        with pytest.raises(ConfigurationError, match="does not stream"):
            driver.stream(_request("embed"))

    def test_unknown_operation(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An unknown operation raises ConfigurationError naming the supported ones."""
        driver = make_driver(_json_transport({}))
        with pytest.raises(ConfigurationError, match="chat, generate, embed"):
            driver.send(_request("responses"))
