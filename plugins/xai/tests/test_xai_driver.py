"""End-to-end tests of the xAI driver through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import costkit_xai
from costkit import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    Message,
    ModelNotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    Request,
    ServerError,
)
from costkit.testing import load_body, replay_transport

CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"


def chat_request(**fields: Any) -> Request:
    """Return a chat request to grok-4-fast-non-reasoning."""
    fields.setdefault("messages", "What is 2 + 2?")
    return Request(provider="xai", model="grok-4-fast-non-reasoning", **fields)


def responses_request(**fields: Any) -> Request:
    """Return a Responses API request to grok-4.3."""
    fields.setdefault("messages", "What is 2 + 2?")
    return Request(provider="xai", model="grok-4.3", operation="responses", **fields)


def sent_json(request: httpx.Request) -> Any:
    """Return the decoded JSON body the driver sent."""
    return json.loads(request.content)


def json_transport(status: int, body: Any, *, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """Return a transport that responds to every request with ``body`` as JSON."""
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))


def sequence_transport(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Return a transport that returns ``answers`` in order, recording each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    return httpx.MockTransport(handle)


def async_chunked_transport(name: str, size: int) -> httpx.MockTransport:
    """Return a transport that serves a recorded body to an async client in pieces of ``size`` bytes.

    replay_transport(chunk_size=...) serves pieces to sync clients only.
    """
    body = load_body(name)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return httpx.MockTransport(
        lambda request: httpx.Response(200, content=pieces(), headers={"content-type": "text/event-stream"})
    )


def ok_chat_body() -> dict[str, Any]:
    """Return a small successful Chat Completions body."""
    return {
        "model": "grok-4-fast-non-reasoning",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "cost_in_usd_ticks": 25000},
    }


class TestSend:
    """Whole responses, sync and async."""

    def test_chat_sync(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """A recorded chat body becomes a response with text, model, usage and xAI's charge."""
        seen: list[httpx.Request] = []
        driver = make_driver(replay_transport({CHAT_PATH: "xai-chat-completions-cached-01.json"}, requests=seen))
        response = driver.send(chat_request())
        assert response.text == "4"
        assert response.model == "grok-4-fast-non-reasoning"
        assert response.finish_reason == "stop"
        assert response.usage.input_tokens == 175
        assert response.usage.cached_input_tokens == 161
        assert response.usage.provider_reported_cost == Decimal("0.00001135")
        assert response.streamed is False
        assert len(seen) == 1
        assert seen[0].method == "POST"
        assert str(seen[0].url) == "https://api.x.ai/v1/chat/completions"

    def test_responses_async(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """asend on the Responses API returns the output text and reasoning inside output."""
        seen: list[httpx.Request] = []
        driver = make_driver(
            replay_transport({RESPONSES_PATH: "xai-responses-cached-reasoning-01.json"}, requests=seen)
        )

        async def run() -> Any:
            try:
                return await driver.asend(responses_request())
            finally:
                await driver.aclose()

        response = asyncio.run(run())
        assert response.text == "**4**"
        assert response.model == "grok-4.3"
        assert response.finish_reason == "completed"
        assert response.usage.output_tokens == 184
        assert response.usage.reasoning_tokens == 181
        assert response.metadata["reasoning_summary"].startswith("The question is")
        assert str(seen[0].url) == "https://api.x.ai/v1/responses"

    def test_chat_async(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """asend on Chat Completions reads reasoning outside completion_tokens."""
        driver = make_driver(replay_transport({CHAT_PATH: "xai-chat-completions-reasoning-01.json"}))
        response = asyncio.run(driver.asend(Request(provider="xai", model="grok-3-mini", messages="Hi")))
        assert response.model == "grok-3-mini-high"
        assert response.usage.output_tokens == 4548
        assert response.metadata["reasoning_content"].startswith("First")

    def test_responses_function_calls(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """Function calls of a Responses body are kept in the metadata."""
        driver = make_driver(replay_transport({RESPONSES_PATH: "xai-responses-tool-call-01.json"}))
        response = driver.send(responses_request())
        names = [call["name"] for call in response.metadata["function_calls"]]
        assert names == ["weather", "best_language_to_learn"]
        assert response.text == ""

    def test_chat_tool_calls(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """Tool calls of a chat body are kept in the metadata."""
        driver = make_driver(replay_transport({CHAT_PATH: "xai-chat-completions-tool-call-01.json"}))
        response = driver.send(chat_request())
        assert response.metadata["tool_calls"]
        assert response.usage.output_tokens == 40

    def test_body_without_usage_estimated(self, make_driver: Callable[..., Any]) -> None:
        """A body without usage gets an estimate, marked as such."""
        body = ok_chat_body()
        del body["usage"]
        response = make_driver(json_transport(200, body)).send(chat_request())
        assert response.usage.estimated is True
        assert response.usage.provider_reported_cost is None


class TestStream:
    """Streamed responses, sync and async, complete and closed early."""

    def test_chat_stream_sync(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """A chat stream yields its text deltas and ends with the usage of its final chunk."""
        transport = replay_transport({CHAT_PATH: "xai-chat-completions-stream-text-usage-01.sse"}, chunk_size=97)
        stream = make_driver(transport).stream(chat_request())
        text = "".join(chunk.text for chunk in stream)
        response = stream.response
        assert text == "1, 2, 3."
        assert response.text == text
        assert response.status == "complete"
        assert response.streamed is True
        assert response.finish_reason == "stop"
        assert response.usage.output_tokens == 8
        assert response.usage.estimated is False
        assert response.usage.provider_reported_cost == Decimal("0.00001485")

    def test_reasoning_stream_sync(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """Reasoning deltas are kept apart from the answer text."""
        transport = replay_transport({CHAT_PATH: "xai-chat-completions-stream-reasoning-usage-01.sse"})
        stream = make_driver(transport).stream(Request(provider="xai", model="grok-3-mini", messages="Riddle"))
        for _chunk in stream:
            pass
        response = stream.response
        assert response.model == "grok-3-mini-high"
        assert response.metadata["reasoning_content"].startswith("First")
        assert not response.text.startswith("First")
        assert response.usage.output_tokens == 2902

    def test_responses_stream_async(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """An async Responses stream yields output text and takes usage from response.completed."""
        driver = make_driver(async_chunked_transport("xai-responses-stream-cached-reasoning-01.sse", 211))

        async def run() -> tuple[str, Any]:
            stream = driver.astream(responses_request())
            pieces = [chunk.text async for chunk in stream]
            return "".join(pieces), stream.response

        text, response = asyncio.run(run())
        assert text == "1, 2, 3."
        assert response.status == "complete"
        assert response.model == "grok-4.3"
        assert response.finish_reason == "completed"
        assert response.usage.output_tokens == 160
        assert response.usage.reasoning_tokens == 152
        assert response.usage.provider_reported_cost == Decimal("0.00051435")
        assert response.metadata["reasoning_summary"].startswith("The user said")

    def test_chat_stream_async(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """An async chat stream ends with the final chunk's usage."""
        transport = replay_transport({CHAT_PATH: "xai-chat-completions-stream-tool-usage-01.sse"})
        driver = make_driver(transport)

        async def run() -> Any:
            stream = driver.astream(chat_request())
            async for _chunk in stream:
                pass
            return stream.response

        response = asyncio.run(run())
        assert response.text.startswith("The current weather in Berlin")
        assert response.usage.input_tokens == 493
        assert response.usage.cached_input_tokens == 492

    def test_stream_closed_early(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """Closing a stream after one chunk ends it as closed with an estimated usage."""
        transport = replay_transport({CHAT_PATH: "xai-chat-completions-stream-text-usage-01.sse"}, chunk_size=64)
        stream = make_driver(transport).stream(chat_request())
        first = next(stream)
        stream.close()
        response = stream.response
        assert first.text == "1"
        assert response.status == "closed"
        assert response.text == "1"
        assert response.usage.estimated is True

    def test_async_stream_closed_early(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """aclose after one chunk ends an async stream as closed."""
        driver = make_driver(async_chunked_transport("xai-responses-stream-cached-reasoning-01.sse", 64))

        async def run() -> Any:
            stream = driver.astream(responses_request())
            await stream.__anext__()
            await stream.aclose()
            return stream.response

        response = asyncio.run(run())
        assert response.status == "closed"
        assert response.usage.estimated is True

    def test_stream_without_usage_estimated(self, make_driver: Callable[..., Any]) -> None:
        """A stream that never sends usage is estimated from the prompt and the text."""
        body = 'data: {"model":"grok-3","choices":[{"index":0,"delta":{"content":"Hello there"}}]}\n\ndata: [DONE]\n\n'
        transport = httpx.MockTransport(
            lambda request: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        stream = make_driver(transport).stream(chat_request())
        text = "".join(chunk.text for chunk in stream)
        assert text == "Hello there"
        assert stream.response.usage.estimated is True

    def test_chat_stream_error_event(self, make_driver: Callable[..., Any]) -> None:
        """An error inside a chat stream raises ServerError and ends the stream as interrupted."""
        body = (
            'data: {"model":"grok-3","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
            'data: {"error":{"message":"upstream overloaded","type":"server_error"}}\n\n'
        )
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
        stream = make_driver(transport).stream(chat_request())
        with pytest.raises(ServerError, match="upstream overloaded"):
            for _chunk in stream:
                pass
        assert stream.response.status == "interrupted"

    def test_null_error_field_ignored(self, make_driver: Callable[..., Any]) -> None:
        """A chunk whose error field is null is an ordinary chunk."""
        body = 'data: {"model":"grok-3","error":null,"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
        stream = make_driver(transport).stream(chat_request())
        assert "".join(chunk.text for chunk in stream) == "Hi"
        assert stream.response.status == "complete"

    def test_responses_failed_event(self, make_driver: Callable[..., Any]) -> None:
        """A response.failed event raises ServerError with xAI's message."""
        failed = {"type": "response.failed", "response": {"status": "failed", "error": {"message": "model crashed"}}}
        body = f"event: response.failed\ndata: {json.dumps(failed)}\n\n"
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
        stream = make_driver(transport).stream(responses_request())
        with pytest.raises(ServerError, match="model crashed"):
            list(stream)


class TestErrors:
    """Error answers map to the exact costkit error class."""

    @pytest.mark.parametrize(
        "name", ["xai-chat-completions-error-400-auth-01.json", "xai-responses-error-400-auth-01.json"]
    )
    def test_recorded_bad_key(self, recorded_payloads: Path, make_driver: Callable[..., Any], name: str) -> None:
        """xAI's flat {code, error} body for a bad key (HTTP 400) is an AuthenticationError."""
        transport = replay_transport(lambda request: (400, name))
        driver = make_driver(transport)
        request = responses_request() if "responses" in name else chat_request()
        with pytest.raises(AuthenticationError) as raised:
            driver.send(request)
        assert raised.value.status_code == 400
        assert "Incorrect API key" in str(raised.value)
        assert "XAI_API_KEY" in str(raised.value)

    @pytest.mark.parametrize(
        ("status", "body", "error_class"),
        [
            (401, {"error": "Unauthorized"}, AuthenticationError),
            (403, {"code": "permission-denied", "error": "The API key lacks permission"}, AuthenticationError),
            (
                403,
                {"code": "permission-denied", "error": "Your team has no credits yet. Purchase credits."},
                QuotaExceededError,
            ),
            (404, {"code": "not-found", "error": "The model grok-99 does not exist"}, ModelNotFoundError),
            (400, {"code": "invalid-argument", "error": "Model grok-99 not found"}, ModelNotFoundError),
            (400, {"code": "invalid-argument", "error": "temperature must be at most 2"}, InvalidRequestError),
            (
                422,
                {"error": {"message": "Failed to deserialize the JSON body", "type": "invalid"}},
                InvalidRequestError,
            ),
            (
                400,
                {"error": "This model's maximum prompt length is 131072 but the request contains 200000 tokens."},
                ContextLengthExceededError,
            ),
            (500, {"error": "internal error"}, ServerError),
            (503, "Service Unavailable", ServerError),
            (418, {"error": "teapot"}, ProviderError),
        ],
    )
    def test_status_maps_to_class(
        self, make_driver: Callable[..., Any], status: int, body: Any, error_class: type[ProviderError]
    ) -> None:
        """Each status and body maps to exactly one error class."""
        if isinstance(body, str):
            transport = httpx.MockTransport(lambda request: httpx.Response(status, text=body))
        else:
            transport = json_transport(status, body)
        with pytest.raises(ProviderError) as raised:
            make_driver(transport).send(chat_request())
        assert type(raised.value) is error_class
        assert raised.value.status_code == status
        assert raised.value.provider == "xai"

    def test_rate_limit_retry_after(self, make_driver: Callable[..., Any]) -> None:
        """429 is a RateLimitError carrying the Retry-After delay."""
        transport = json_transport(429, {"error": "Too many requests"}, headers={"Retry-After": "7"})
        with pytest.raises(RateLimitError) as raised:
            make_driver(transport).send(chat_request())
        assert raised.value.retry_after == 7.0
        assert raised.value.retryable is True

    def test_rate_limit_out_of_credits(self, make_driver: Callable[..., Any]) -> None:
        """429 for an exhausted spending limit is a QuotaExceededError, which is not retried."""
        seen: list[httpx.Request] = []
        answers = [httpx.Response(429, json={"error": "You have reached your monthly spending limit"})] * 3
        with pytest.raises(QuotaExceededError):
            make_driver(sequence_transport(answers, seen), max_retries=2).send(chat_request())
        assert len(seen) == 1

    def test_error_body_kept(self, make_driver: Callable[..., Any]) -> None:
        """The decoded error body stays on the exception."""
        body = {"code": "invalid-argument", "error": "bad"}
        with pytest.raises(InvalidRequestError) as raised:
            make_driver(json_transport(400, body)).send(chat_request())
        assert raised.value.body == body

    def test_stream_error_status(self, make_driver: Callable[..., Any]) -> None:
        """An error status when a stream opens raises before any chunk."""
        stream = make_driver(json_transport(404, {"error": "The model x does not exist"})).stream(chat_request())
        with pytest.raises(ModelNotFoundError):
            next(stream)


class TestRetries:
    """429 and 5xx are retried up to max_retries, honouring Retry-After; other 4xx never."""

    def test_429_then_success(self, make_driver: Callable[..., Any]) -> None:
        """Two rate limits with Retry-After 0, then success, take three attempts."""
        seen: list[httpx.Request] = []
        limited = httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "0"})
        answers = [limited, limited, httpx.Response(200, json=ok_chat_body())]
        response = make_driver(sequence_transport(answers, seen), max_retries=2).send(chat_request())
        assert response.text == "4"
        assert len(seen) == 3

    def test_5xx_then_success(self, make_driver: Callable[..., Any]) -> None:
        """A 503 is retried and the next answer is used."""
        seen: list[httpx.Request] = []
        answers = [
            httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "0"}),
            httpx.Response(200, json=ok_chat_body()),
        ]
        response = make_driver(sequence_transport(answers, seen), max_retries=1).send(chat_request())
        assert response.usage.provider_reported_cost == Decimal("0.0000025")
        assert len(seen) == 2

    def test_retries_exhausted(self, make_driver: Callable[..., Any]) -> None:
        """After max_retries extra attempts the last error is raised."""
        seen: list[httpx.Request] = []
        answers = [httpx.Response(500, json={"error": "boom"}, headers={"Retry-After": "0"})] * 4
        with pytest.raises(ServerError):
            make_driver(sequence_transport(answers, seen), max_retries=2).send(chat_request())
        assert len(seen) == 3

    def test_4xx_not_retried(self, make_driver: Callable[..., Any]) -> None:
        """A 400 is raised at once, whatever max_retries is."""
        seen: list[httpx.Request] = []
        answers = [httpx.Response(400, json={"error": "bad request"}, headers={"Retry-After": "0"})] * 3
        with pytest.raises(InvalidRequestError):
            make_driver(sequence_transport(answers, seen), max_retries=2).send(chat_request())
        assert len(seen) == 1

    def test_auth_not_retried(self, make_driver: Callable[..., Any]) -> None:
        """An invalid key is raised at once."""
        seen: list[httpx.Request] = []
        answers = [httpx.Response(400, json={"code": "x", "error": "Incorrect API key provided"})] * 3
        with pytest.raises(AuthenticationError):
            make_driver(sequence_transport(answers, seen), max_retries=2).send(chat_request())
        assert len(seen) == 1

    def test_async_429_then_success(self, make_driver: Callable[..., Any]) -> None:
        """asend retries a rate limit too."""
        seen: list[httpx.Request] = []
        answers = [
            httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "0"}),
            httpx.Response(200, json=ok_chat_body()),
        ]
        response = asyncio.run(make_driver(sequence_transport(answers, seen), max_retries=1).asend(chat_request()))
        assert response.text == "4"
        assert len(seen) == 2

    def test_stream_retried_on_open(self, recorded_payloads: Path, make_driver: Callable[..., Any]) -> None:
        """A stream whose first attempt gets 503 opens on the retry."""
        seen: list[httpx.Request] = []
        calls = iter([(503, "xai-chat-completions-error-400-auth-01.json")])

        def route(request: httpx.Request) -> str | tuple[int, str]:
            return next(calls, "xai-chat-completions-stream-text-usage-01.sse")

        transport = replay_transport(route, requests=seen, headers={"Retry-After": "0"})
        stream = make_driver(transport, max_retries=1).stream(chat_request())
        assert "".join(chunk.text for chunk in stream) == "1, 2, 3."
        assert len(seen) == 2


class TestRequestBody:
    """What the driver sends."""

    def test_chat_body(self, make_driver: Callable[..., Any]) -> None:
        """A chat request sends the model, messages, max_tokens, service tier and options."""
        seen: list[httpx.Request] = []
        driver = make_driver(sequence_transport([httpx.Response(200, json=ok_chat_body())], seen))
        request = chat_request(
            messages=(Message("system", "Be brief."), Message("user", "2 + 2?")),
            max_output_tokens=50,
            service_tier="priority",
            options={"temperature": 0.2, "reasoning_effort": "high"},
        )
        driver.send(request)
        body = sent_json(seen[0])
        assert body["model"] == "grok-4-fast-non-reasoning"
        assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 2?"}]
        assert body["max_tokens"] == 50
        assert body["service_tier"] == "priority"
        assert body["temperature"] == 0.2
        assert body["reasoning_effort"] == "high"
        assert "stream" not in body

    def test_chat_stream_asks_for_usage(self, make_driver: Callable[..., Any]) -> None:
        """A chat stream sends stream=true and stream_options.include_usage=true, keeping other stream options."""
        seen: list[httpx.Request] = []
        transport = sequence_transport([httpx.Response(200, text="data: [DONE]\n\n")], seen)
        stream = make_driver(transport).stream(chat_request(options={"stream_options": {"include_obfuscation": False}}))
        list(stream)
        body = sent_json(seen[0])
        assert body["stream"] is True
        assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}

    def test_chat_stream_overrides_usage_off(self, make_driver: Callable[..., Any]) -> None:
        """include_usage stays on even when the options turn it off, so the stream can be priced."""
        seen: list[httpx.Request] = []
        transport = sequence_transport([httpx.Response(200, text="data: [DONE]\n\n")], seen)
        list(make_driver(transport).stream(chat_request(options={"stream_options": {"include_usage": False}})))
        assert sent_json(seen[0])["stream_options"]["include_usage"] is True

    def test_responses_body(self, make_driver: Callable[..., Any]) -> None:
        """A Responses request sends input messages and max_output_tokens."""
        seen: list[httpx.Request] = []
        answer = httpx.Response(200, json={"model": "grok-4.3", "output": [], "status": "completed"})
        driver = make_driver(sequence_transport([answer], seen))
        driver.send(responses_request(max_output_tokens=30, options={"reasoning": {"effort": "low"}}))
        body = sent_json(seen[0])
        assert seen[0].url.path == RESPONSES_PATH
        assert body["model"] == "grok-4.3"
        assert body["input"] == [{"role": "user", "content": "What is 2 + 2?"}]
        assert body["max_output_tokens"] == 30
        assert body["reasoning"] == {"effort": "low"}
        assert "stream" not in body

    def test_responses_stream_body(self, make_driver: Callable[..., Any]) -> None:
        """A Responses stream sends stream=true without chat stream options."""
        seen: list[httpx.Request] = []
        transport = sequence_transport([httpx.Response(200, text="")], seen)
        list(make_driver(transport).stream(responses_request()))
        body = sent_json(seen[0])
        assert body["stream"] is True
        assert "stream_options" not in body

    def test_stream_option_rejected(self, make_driver: Callable[..., Any]) -> None:
        """options must not set stream: the caller picks send() or stream()."""
        driver = make_driver(json_transport(200, ok_chat_body()))
        with pytest.raises(ConfigurationError, match="stream"):
            driver.send(chat_request(options={"stream": True}))

    def test_unknown_operation_rejected(self, make_driver: Callable[..., Any]) -> None:
        """Operations other than chat and responses raise ConfigurationError."""
        driver = make_driver(json_transport(200, ok_chat_body()))
        with pytest.raises(ConfigurationError, match="embed"):
            driver.send(chat_request(operation="embed"))

    def test_tool_message_in_responses_rejected(self, make_driver: Callable[..., Any]) -> None:
        """A tool message cannot be expressed as Responses input without options['input']."""
        driver = make_driver(json_transport(200, ok_chat_body()))
        request = responses_request(messages=(Message("user", "Hi"), Message("tool", "42")))
        with pytest.raises(ConfigurationError, match="function_call_output"):
            driver.send(request)


class TestApiKey:
    """The key travels in the Authorization header only."""

    def test_bearer_header(self, make_driver: Callable[..., Any], sentinel_key: str) -> None:
        """The key is sent as a bearer token and never in the URL."""
        seen: list[httpx.Request] = []
        make_driver(sequence_transport([httpx.Response(200, json=ok_chat_body())], seen)).send(chat_request())
        assert seen[0].headers["Authorization"] == f"Bearer {sentinel_key}"
        assert sentinel_key not in str(seen[0].url)

    def test_key_hidden_from_repr_errors_and_logs(
        self, make_driver: Callable[..., Any], sentinel_key: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The key appears in no repr, error message, error body or log record."""
        answers = [
            httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "0"}),
            httpx.Response(400, json={"code": "x", "error": "Incorrect API key provided: xa***b9"}),
        ]
        driver = make_driver(sequence_transport(answers, []), max_retries=1)
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as raised:
            driver.send(chat_request())
        assert sentinel_key not in repr(driver)
        assert sentinel_key not in str(raised.value)
        assert sentinel_key not in repr(raised.value.body)
        assert caplog.records
        for record in caplog.records:
            assert sentinel_key not in record.getMessage()

    def test_missing_key_raises_before_sending(self, make_driver: Callable[..., Any]) -> None:
        """Without a key the driver raises AuthenticationError and sends nothing."""
        seen: list[httpx.Request] = []
        driver = make_driver(sequence_transport([httpx.Response(200, json=ok_chat_body())], seen), api_key=None)
        with pytest.raises(AuthenticationError, match="XAI_API_KEY"):
            driver.send(chat_request())
        assert seen == []


class TestFactory:
    """create_driver reads the environment and validates options."""

    def test_environment_key_and_base_url(self, monkeypatch: pytest.MonkeyPatch, sentinel_key: str) -> None:
        """XAI_API_KEY and XAI_BASE_URL fill missing options."""
        monkeypatch.setenv("XAI_API_KEY", sentinel_key)
        monkeypatch.setenv("XAI_BASE_URL", "http://127.0.0.1:9/v1/")
        seen: list[httpx.Request] = []
        driver = costkit_xai.create_driver(
            transport=sequence_transport([httpx.Response(200, json=ok_chat_body())], seen)
        )
        driver.send(chat_request())
        assert str(seen[0].url) == "http://127.0.0.1:9/v1/chat/completions"
        assert seen[0].headers["Authorization"] == f"Bearer {sentinel_key}"

    def test_options_win_over_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Explicit options take precedence over the environment."""
        monkeypatch.setenv("XAI_API_KEY", "from-environment")
        monkeypatch.setenv("XAI_BASE_URL", "http://127.0.0.1:9/v1")
        driver = costkit_xai.create_driver(api_key="from-options", base_url="http://127.0.0.1:8/v1")
        assert driver.base_url == "http://127.0.0.1:8/v1"
        assert driver.auth_headers() == {"Authorization": "Bearer from-options"}

    def test_default_base_url(self) -> None:
        """Without XAI_BASE_URL the driver calls https://api.x.ai/v1."""
        assert costkit_xai.create_driver(api_key="k").base_url == "https://api.x.ai/v1"

    def test_unknown_option_rejected(self) -> None:
        """An unknown option raises ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match="organization"):
            costkit_xai.create_driver(api_key="k", organization="acme")

    def test_registered_factory(self, xai_manager: Any) -> None:
        """The plugin manager hands out create_driver under the name xai."""
        assert xai_manager.drivers()["xai"] is costkit_xai.create_driver
