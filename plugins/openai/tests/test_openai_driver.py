"""The OpenAI driver end to end through httpx.MockTransport serving recorded bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from costkit import ConfigurationError, Message, Request, ServerError, Usage
from costkit.testing import load_body, replay_transport
from costkit_openai._driver import OpenAIDriver

SENTINEL_KEY = "sk-openai-test-sentinel-5f0c2a"
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make_driver(transport: httpx.MockTransport, **options: Any) -> OpenAIDriver:
    options.setdefault("api_key", SENTINEL_KEY)
    options.setdefault("max_retries", 0)
    return OpenAIDriver(transport=transport, **options)


def make_request(operation: str = "chat", **fields: Any) -> Request:
    fields.setdefault("model", "gpt-4o-mini")
    fields.setdefault("messages", (Message("system", "Be brief."), Message("user", "Hello")))
    return Request(provider="openai", operation=operation, **fields)


class _AsyncPieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> Any:
        for piece in self._pieces:
            yield piece


def async_chunked_transport(path: str, name: str, chunk_size: int) -> httpx.MockTransport:
    """Serve a recorded stream in pieces to an async client.

    replay_transport(chunk_size=...) hands httpx a stream that only sync clients can read,
    so async tests build their own.
    """
    body = load_body(name)
    pieces = [body[start : start + chunk_size] for start in range(0, len(body), chunk_size)]

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != path:
            return httpx.Response(599, text=f"no recorded body for {request.url.path}")
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_AsyncPieces(pieces))

    return httpx.MockTransport(handle)


def sent_body(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


class TestChatSend:
    def test_plain(self, recorded_payloads: Path) -> None:
        """A plain chat body gives its text, model, finish reason and usage."""
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-plain-01.json"}))
        response = driver.send(make_request(model="gpt-3.5-turbo"))
        assert response.text.strip() != ""
        assert response.model == "gpt-3.5-turbo-0125"
        assert response.finish_reason == "stop"
        assert response.usage == Usage(input_tokens=13, output_tokens=31)
        assert response.streamed is False

    def test_tool_call(self, recorded_payloads: Path) -> None:
        """A tool-call response has empty text and keeps the calls in metadata."""
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-tool-call-01.json"}))
        response = driver.send(make_request())
        assert response.text == ""
        assert response.finish_reason == "tool_calls"
        assert response.metadata["tool_calls"][0]["type"] == "function"
        assert response.usage == Usage(input_tokens=92, output_tokens=17)

    def test_async(self, recorded_payloads: Path) -> None:
        """asend returns the same response as send."""
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-cached-01.json"}))

        async def run() -> Any:
            try:
                return await driver.asend(make_request())
            finally:
                await driver.aclose()

        response = asyncio.run(run())
        assert response.model == "gpt-4o-mini-2024-07-18"
        assert response.usage == Usage(input_tokens=1149, cached_input_tokens=1024, output_tokens=353)

    def test_request_body(self, recorded_payloads: Path) -> None:
        """The body carries the model, messages, max_completion_tokens, service tier and options."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen))
        request = make_request(max_output_tokens=50, service_tier="flex", options={"temperature": 0, "seed": 7})
        driver.send(request)
        body = sent_body(seen[0])
        assert seen[0].method == "POST"
        assert seen[0].url.path == CHAT
        assert body["model"] == "gpt-4o-mini"
        assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
        assert body["max_completion_tokens"] == 50
        assert "max_tokens" not in body
        assert body["service_tier"] == "flex"
        assert body["temperature"] == 0
        assert body["seed"] == 7
        assert "stream" not in body

    def test_compatible_server_gets_max_tokens(self, recorded_payloads: Path) -> None:
        """A compatible server also gets max_tokens, which some honour instead of max_completion_tokens."""
        seen: list[httpx.Request] = []
        transport = replay_transport(lambda request: "openai-chat-completions-plain-02.json", requests=seen)
        driver = OpenAIDriver(base_url="http://127.0.0.1:8080/v1", transport=transport, max_retries=0)
        driver.send(make_request(max_output_tokens=50))
        body = sent_body(seen[0])
        assert body["max_completion_tokens"] == 50
        assert body["max_tokens"] == 50

    def test_options_cannot_replace_model(self, recorded_payloads: Path) -> None:
        """The request's model and messages win over options of the same name."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen))
        driver.send(make_request(options={"model": "other", "messages": [], "stream": True}))
        body = sent_body(seen[0])
        assert body["model"] == "gpt-4o-mini"
        assert len(body["messages"]) == 2
        assert "stream" not in body


class TestChatStream:
    def test_with_usage(self, recorded_payloads: Path) -> None:
        """A stream with a final usage chunk yields the text and the provider's usage."""
        transport = replay_transport({CHAT: "openai-chat-completions-stream-text-usage-01.sse"}, chunk_size=97)
        driver = make_driver(transport)
        stream = driver.stream(make_request())
        text = "".join(chunk.text for chunk in stream)
        response = stream.response
        assert response is not None
        assert text != ""
        assert response.text == text
        assert response.status == "complete"
        assert response.streamed is True
        assert response.model == "gpt-4o-mini-2024-07-18"
        assert response.usage == Usage(input_tokens=87, output_tokens=26)

    def test_body_includes_usage(self, recorded_payloads: Path) -> None:
        """A streamed chat request always sets stream_options.include_usage."""
        seen: list[httpx.Request] = []
        transport = replay_transport({CHAT: "openai-chat-completions-stream-text-usage-01.sse"}, requests=seen)
        driver = make_driver(transport)
        request = make_request(options={"stream_options": {"include_usage": False, "include_obfuscation": False}})
        list(driver.stream(request))
        body = sent_body(seen[0])
        assert body["stream"] is True
        assert body["stream_options"]["include_usage"] is True
        assert body["stream_options"]["include_obfuscation"] is False

    def test_without_usage(self, recorded_payloads: Path, caplog: pytest.LogCaptureFixture) -> None:
        """A stream without usage is estimated, marked so, and logged as a warning."""
        caplog.set_level(logging.WARNING)
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-stream-no-usage-01.sse"}))
        stream = driver.stream(make_request(model="gpt-3.5-turbo"))
        text = "".join(chunk.text for chunk in stream)
        response = stream.response
        assert response is not None
        assert response.usage is not None
        assert response.usage.estimated is True
        assert response.usage.output_tokens > 0
        assert response.text == text
        assert response.finish_reason == "stop"
        assert "carried no usage" in caplog.text

    def test_tool_call_deltas(self, recorded_payloads: Path) -> None:
        """Streamed tool-call fragments are merged into whole calls."""
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-stream-tool-call-usage-01.sse"}))
        stream = driver.stream(make_request())
        list(stream)
        response = stream.response
        assert response is not None
        calls = response.metadata["tool_calls"]
        assert len(calls) >= 1
        assert calls[0]["function"]["name"] != ""
        assert json.loads(calls[0]["function"]["arguments"]) is not None
        assert response.usage == Usage(input_tokens=54, output_tokens=20)

    def test_async(self, recorded_payloads: Path) -> None:
        """An async stream yields the same text and usage as a sync one."""
        transport = async_chunked_transport(CHAT, "openai-chat-completions-stream-reasoning-usage-01.sse", 64)
        driver = make_driver(transport)

        async def run() -> tuple[str, Any]:
            stream = driver.astream(make_request(model="gpt-5-nano"))
            pieces = [chunk.text async for chunk in stream]
            await driver.aclose()
            return "".join(pieces), stream.response

        text, response = asyncio.run(run())
        assert response is not None
        assert response.text == text
        assert response.status == "complete"
        assert response.usage == Usage(input_tokens=230, output_tokens=241, reasoning_tokens=192)

    def test_closed_early(self, recorded_payloads: Path) -> None:
        """Closing a stream after one chunk ends it with status 'closed' and an estimate."""
        transport = replay_transport({CHAT: "openai-chat-completions-stream-text-usage-01.sse"}, chunk_size=200)
        driver = make_driver(transport)
        stream = driver.stream(make_request())
        next(stream)
        stream.close()
        response = stream.response
        assert response is not None
        assert response.status == "closed"
        assert response.usage is not None
        assert response.usage.estimated is True

    def test_async_closed_early(self, recorded_payloads: Path) -> None:
        """Closing an async stream early ends it with status 'closed'."""
        transport = async_chunked_transport(CHAT, "openai-chat-completions-stream-text-usage-01.sse", 200)
        driver = make_driver(transport)

        async def run() -> Any:
            stream = driver.astream(make_request())
            await stream.__anext__()
            await stream.aclose()
            await driver.aclose()
            return stream.response

        response = asyncio.run(run())
        assert response is not None
        assert response.status == "closed"

    def test_error_event(self) -> None:
        """An error object inside a stream raises ServerError with the provider's message."""
        body = (
            'data: {"choices":[{"delta":{"content":"Hi"}}],"model":"m"}\n\n'
            'data: {"error":{"message":"upstream overloaded","code":502}}\n\n'
        )

        def handle(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

        stream = make_driver(httpx.MockTransport(handle)).stream(make_request())
        with pytest.raises(ServerError, match="upstream overloaded"):
            list(stream)
        assert stream.response is not None
        assert stream.response.status == "interrupted"

    def test_null_error_field(self) -> None:
        """A chunk whose error field is null is an ordinary chunk."""
        body = (
            'data: {"choices":[{"delta":{"content":"Hi"}}],"model":"m","error":null}\n\n'
            'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1},"error":null}\n\n'
        )

        def handle(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

        stream = make_driver(httpx.MockTransport(handle)).stream(make_request())
        text = "".join(chunk.text for chunk in stream)
        assert text == "Hi"
        assert stream.response is not None
        assert stream.response.usage == Usage(input_tokens=3, output_tokens=1)


class TestCompatibleServers:
    def test_ollama_stream(self, recorded_payloads: Path) -> None:
        """Ollama's /v1 stream works through a base_url, without an API key header."""
        seen: list[httpx.Request] = []
        transport = replay_transport({CHAT: "ollama-v1-chat-completions-stream-usage-01.sse"}, requests=seen)
        driver = OpenAIDriver(base_url="http://127.0.0.1:11434/v1", transport=transport, max_retries=0)
        stream = driver.stream(make_request(model="qwen3"))
        list(stream)
        response = stream.response
        assert response is not None
        assert "authorization" not in seen[0].headers
        assert seen[0].url.host == "127.0.0.1"
        assert response.model == "qwen3"
        assert response.usage == Usage(input_tokens=17, output_tokens=289)

    def test_openrouter_reported_cost(self, recorded_payloads: Path) -> None:
        """OpenRouter's usage.cost arrives as the provider-reported cost."""
        route = {"/api/v1/chat/completions": "openrouter-chat-completions-stream-usage-cost-01.sse"}
        transport = replay_transport(route)
        driver = make_driver(transport, base_url="https://openrouter.ai/api/v1")
        stream = driver.stream(make_request(model="moonshotai/kimi-k2"))
        list(stream)
        response = stream.response
        assert response is not None
        assert response.usage is not None
        assert response.usage.provider_reported_cost == Decimal("0.00007159")


class TestResponsesAPI:
    def test_plain(self, recorded_payloads: Path) -> None:
        """A Responses API body gives the output text, model, status and usage."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({RESPONSES: "openai-responses-plain-01.json"}, requests=seen))
        response = driver.send(make_request("responses", model="gpt-5.5", max_output_tokens=64))
        body = sent_body(seen[0])
        assert body["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
        assert body["max_output_tokens"] == 64
        assert "messages" not in body
        assert response.text != ""
        assert response.model == "gpt-5.5-2026-04-23"
        assert response.finish_reason == "completed"
        assert response.usage == Usage(input_tokens=11, output_tokens=5)

    def test_stream(self, recorded_payloads: Path) -> None:
        """A Responses API stream yields text deltas and takes usage from response.completed."""
        seen: list[httpx.Request] = []
        transport = replay_transport({RESPONSES: "openai-responses-stream-reasoning-01.sse"}, requests=seen)
        driver = make_driver(transport)
        stream = driver.stream(make_request("responses", model="gpt-5-nano"))
        text = "".join(chunk.text for chunk in stream)
        response = stream.response
        body = sent_body(seen[0])
        assert body["stream"] is True
        assert "stream_options" not in body
        assert response is not None
        assert text != ""
        assert response.text == text
        assert response.model == "gpt-5-nano-2025-08-07"
        assert response.finish_reason == "completed"
        assert response.usage == Usage(input_tokens=13, output_tokens=284, reasoning_tokens=256)

    def test_stream_tool_call(self, recorded_payloads: Path) -> None:
        """A function call finished in a Responses API stream is kept in metadata."""
        driver = make_driver(replay_transport({RESPONSES: "openai-responses-stream-tool-call-01.sse"}))
        stream = driver.stream(make_request("responses", model="gpt-5.5"))
        list(stream)
        response = stream.response
        assert response is not None
        assert response.metadata["tool_calls"][0]["type"] == "function_call"
        assert response.usage == Usage(input_tokens=58, output_tokens=23)

    def test_failed_event(self) -> None:
        """A response.failed event raises ServerError with the response's error message."""
        failed = {"type": "response.failed", "response": {"status": "failed", "error": {"message": "model crashed"}}}
        body = f"event: response.failed\ndata: {json.dumps(failed)}\n\n"

        def handle(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

        stream = make_driver(httpx.MockTransport(handle)).stream(make_request("responses"))
        with pytest.raises(ServerError, match="model crashed"):
            list(stream)


class TestEmbeddings:
    def test_send(self, recorded_payloads: Path) -> None:
        """Embedding sends the user messages as inputs and bills prompt tokens."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({EMBEDDINGS: "openai-embeddings-3-small-batch-01.json"}, requests=seen))
        messages = (Message("system", "ignored"), Message("user", "first"), Message("user", "second"))
        response = driver.send(make_request("embed", model="text-embedding-3-small", messages=messages))
        body = sent_body(seen[0])
        assert body == {"model": "text-embedding-3-small", "input": ["first", "second"]}
        assert response.text == ""
        assert response.metadata["embeddings"] >= 1
        assert response.usage == Usage(input_tokens=3)

    def test_stream_rejected(self) -> None:
        """Streaming an embedding raises ConfigurationError before any request."""
        driver = make_driver(httpx.MockTransport(lambda request: httpx.Response(500)))
        with pytest.raises(ConfigurationError, match="cannot be streamed"):
            driver.stream(make_request("embed"))


class TestRequestChecks:
    def test_unknown_operation(self) -> None:
        """An operation the driver does not serve raises ConfigurationError naming it."""
        driver = make_driver(httpx.MockTransport(lambda request: httpx.Response(500)))
        with pytest.raises(ConfigurationError, match="'generate'"):
            driver.send(make_request("generate"))

    def test_batch_tier_rejected(self) -> None:
        """service_tier 'batch' is rejected: it prices Batch API results, not live requests."""
        driver = make_driver(httpx.MockTransport(lambda request: httpx.Response(500)))
        with pytest.raises(ConfigurationError, match="batch"):
            driver.send(make_request(service_tier="batch"))


class TestConfiguration:
    def test_key_from_environment(self, monkeypatch: pytest.MonkeyPatch, recorded_payloads: Path) -> None:
        """OPENAI_API_KEY is sent as a bearer token when no api_key is given."""
        monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
        seen: list[httpx.Request] = []
        transport = replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen)
        OpenAIDriver(transport=transport).send(make_request())
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"

    def test_base_url_from_environment(self, monkeypatch: pytest.MonkeyPatch, recorded_payloads: Path) -> None:
        """OPENAI_BASE_URL moves every request, together with OPENAI_API_KEY."""
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
        monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
        seen: list[httpx.Request] = []
        transport = replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen)
        OpenAIDriver(transport=transport).send(make_request())
        assert str(seen[0].url) == "http://127.0.0.1:8080/v1/chat/completions"
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"

    def test_explicit_base_url_skips_environment_key(
        self, monkeypatch: pytest.MonkeyPatch, recorded_payloads: Path
    ) -> None:
        """A base_url passed in code does not receive the OPENAI_API_KEY of the environment."""
        monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
        seen: list[httpx.Request] = []
        transport = replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen)
        OpenAIDriver(base_url="http://127.0.0.1:8080/v1", transport=transport).send(make_request())
        assert "authorization" not in seen[0].headers

    def test_missing_key_for_openai(self) -> None:
        """api.openai.com without any key raises ConfigurationError naming OPENAI_API_KEY."""
        with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
            OpenAIDriver()

    def test_unknown_option(self) -> None:
        """An unknown driver option raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="colour"):
            OpenAIDriver(api_key=SENTINEL_KEY, colour="blue")


class TestSecrecy:
    def test_key_only_in_header(self, recorded_payloads: Path) -> None:
        """The key travels in the Authorization header and never in the URL or the body."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({CHAT: "openai-chat-completions-plain-02.json"}, requests=seen))
        driver.send(make_request())
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"
        assert SENTINEL_KEY not in str(seen[0].url)
        assert SENTINEL_KEY.encode() not in seen[0].content

    def test_key_not_in_repr(self) -> None:
        """The driver's repr shows whether a key is set, not what it is."""
        driver = make_driver(httpx.MockTransport(lambda request: httpx.Response(500)))
        assert SENTINEL_KEY not in repr(driver)
        assert "api_key=set" in repr(driver)

    def test_key_not_in_logs(self, recorded_payloads: Path, caplog: pytest.LogCaptureFixture) -> None:
        """Sends, streams, retries and errors log nothing containing the key, even at DEBUG."""
        caplog.set_level(logging.DEBUG)
        routes = {
            CHAT: "openai-chat-completions-stream-no-usage-01.sse",
            RESPONSES: "openai-responses-plain-01.json",
            EMBEDDINGS: (429, "openai-chat-completions-error-429-01.json"),
        }
        driver = make_driver(replay_transport(routes, headers={"retry-after": "0"}), max_retries=1)
        list(driver.stream(make_request()))
        driver.send(make_request("responses"))
        with pytest.raises(Exception, match="rate_limit_exceeded"):
            driver.send(make_request("embed"))
        assert "retry 1 of 1" in caplog.text
        assert SENTINEL_KEY not in caplog.text

    def test_echoed_key_redacted(self) -> None:
        """A server that echoes the key back has it removed from the error message and body."""
        body = {"error": {"message": f"Incorrect API key provided: {SENTINEL_KEY}.", "code": "invalid_api_key"}}
        driver = make_driver(httpx.MockTransport(lambda request: httpx.Response(401, json=body)))
        with pytest.raises(Exception) as raised:
            driver.send(make_request())
        assert SENTINEL_KEY not in str(raised.value)
        assert SENTINEL_KEY not in repr(raised.value.body)  # type: ignore[attr-defined]
        assert "[redacted]" in str(raised.value)
