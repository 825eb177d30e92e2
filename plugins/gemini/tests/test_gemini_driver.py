"""End-to-end tests of the Gemini driver through httpx.MockTransport and recorded bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from costkit import Message, Request, Usage
from costkit.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from costkit.testing import expected_usage, load_body, replay_transport, usage_as_expected
from costkit_gemini._driver import DEFAULT_BASE_URL, GeminiDriver, create_driver

PREFIX = "/v1beta/models"


def make_driver(transport: httpx.MockTransport, key: str, **options: Any) -> GeminiDriver:
    """Build a driver on a mock transport with retries off unless asked."""
    options.setdefault("max_retries", 0)
    return create_driver(api_key=key, transport=transport, **options)


def chat(model: str = "gemini-2.5-flash", **fields: Any) -> Request:
    """Build a chat request to Gemini."""
    fields.setdefault("messages", "Hello")
    return Request(provider="gemini", model=model, **fields)


def sent_json(request: httpx.Request) -> Any:
    """Decode the JSON body the driver sent."""
    return json.loads(request.content)


def expected(name: str) -> dict[str, Any]:
    """The expected normalised usage of a recorded body."""
    result: dict[str, Any] = expected_usage(name)["usage"]
    return result


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """Build an inline JSON response."""
    return httpx.Response(status, json=payload, headers=headers)


def sequence(*responses: httpx.Response, seen: list[httpx.Request]) -> httpx.MockTransport:
    """Return the given responses to successive requests, recording each request."""
    pending = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return pending.pop(0)

    return httpx.MockTransport(handle)


class AsyncPieces(httpx.AsyncByteStream):
    """A response body delivered to an async client in pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


def async_chunked(routes: dict[str, str], chunk_size: int) -> httpx.MockTransport:
    """Serve recorded bodies to an async client in pieces of ``chunk_size`` bytes.

    ``replay_transport(chunk_size=...)`` builds a body that only a sync client can read.
    """

    def handle(request: httpx.Request) -> httpx.Response:
        body = load_body(routes[request.url.path])
        pieces = [body[start : start + chunk_size] for start in range(0, len(body), chunk_size)]
        return httpx.Response(200, stream=AsyncPieces(pieces))

    return httpx.MockTransport(handle)


OK_BODY = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    "modelVersion": "gemini-2.5-flash",
}


class TestSend:
    """Whole responses, sync and async."""

    def test_sync_send(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """A recorded generateContent body becomes text, usage, model and finish reason."""
        name = "gemini-generateContent-cached-content-01.json"
        seen: list[httpx.Request] = []
        transport = replay_transport({f"{PREFIX}/gemini-2.5-flash:generateContent": name}, requests=seen)
        response = make_driver(transport, sentinel_key).send(chat())
        assert usage_as_expected(response.usage) == expected(name)
        assert response.model == "gemini-2.5-flash"
        assert response.finish_reason == "STOP"
        assert response.text
        assert response.streamed is False
        assert len(seen) == 1

    def test_async_send(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """asend() returns the same response as send()."""
        name = "gemini-generateContent-thoughts-01.json"
        transport = replay_transport({f"{PREFIX}/gemini-3-pro-preview:generateContent": name})
        driver = make_driver(transport, sentinel_key)

        async def run() -> Any:
            try:
                return await driver.asend(chat("gemini-3-pro-preview"))
            finally:
                await driver.aclose()

        response = asyncio.run(run())
        assert usage_as_expected(response.usage) == expected(name)
        assert response.model == "gemini-3-pro-preview"

    def test_thought_parts_left_out(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """Thought parts are kept in metadata, not in the answer's text."""
        name = "gemini-generateContent-thoughts-01.json"
        transport = replay_transport({f"{PREFIX}/gemini-3-pro-preview:generateContent": name})
        response = make_driver(transport, sentinel_key).send(chat("gemini-3-pro-preview"))
        payload = json.loads((recorded_payloads / name).read_text())
        parts = payload["candidates"][0]["content"]["parts"]
        answer = "".join(part["text"] for part in parts if "text" in part and not part.get("thought"))
        assert response.text == answer

    def test_integer_finish_reason(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """An integer finishReason (enum-encoding=int) is reported by name."""
        name = "gemini-generateContent-int-enums-01.json"
        transport = replay_transport({f"{PREFIX}/gemini-2.0-flash:generateContent": name})
        response = make_driver(transport, sentinel_key).send(chat("gemini-2.0-flash"))
        assert response.finish_reason == "STOP"
        assert usage_as_expected(response.usage) == expected(name)

    def test_function_call_metadata(self, sentinel_key: str) -> None:
        """Function calls are listed in the response metadata."""
        payload = {
            "candidates": [{"content": {"parts": [{"functionCall": {"name": "lookup", "args": {"q": "x"}}}]}}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2},
        }
        transport = httpx.MockTransport(lambda request: json_response(200, payload))
        response = make_driver(transport, sentinel_key).send(chat())
        assert response.metadata["function_calls"] == [{"name": "lookup", "args": {"q": "x"}}]
        assert response.text == ""

    def test_blocked_prompt(self, sentinel_key: str) -> None:
        """A blocked prompt has no candidates; its block reason is kept."""
        payload = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 7}}
        transport = httpx.MockTransport(lambda request: json_response(200, payload))
        response = make_driver(transport, sentinel_key).send(chat())
        assert response.metadata["block_reason"] == "SAFETY"
        assert response.finish_reason == "PROMPT_BLOCKED"
        assert response.usage == Usage(input_tokens=7)

    def test_body_without_usage_estimated(self, sentinel_key: str, caplog: pytest.LogCaptureFixture) -> None:
        """A body without usageMetadata is estimated, with a warning."""
        payload = {"candidates": [{"content": {"parts": [{"text": "Hello there"}]}}]}
        transport = httpx.MockTransport(lambda request: json_response(200, payload))
        with caplog.at_level(logging.WARNING):
            response = make_driver(transport, sentinel_key).send(chat())
        assert response.usage is not None
        assert response.usage.estimated is True
        assert "no usage" in caplog.text


class TestRequestBody:
    """What the driver sends."""

    def send_and_capture(self, key: str, request: Request) -> httpx.Request:
        """Send ``request`` to an inline response and return the HTTP request."""
        seen: list[httpx.Request] = []
        transport = sequence(json_response(200, OK_BODY), seen=seen)
        make_driver(transport, key).send(request)
        return seen[0]

    def test_roles_and_system(self, sentinel_key: str) -> None:
        """System messages become systemInstruction; assistant turns get role model."""
        messages = (
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello!"),
            Message("system", "Answer in French."),
            Message("user", "Bye"),
        )
        body = sent_json(self.send_and_capture(sentinel_key, chat(messages=messages)))
        assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]}
        assert body["contents"] == [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "Bye"}]},
        ]

    def test_tool_message_sent_as_user(self, sentinel_key: str) -> None:
        """A tool message's text is sent as a user turn."""
        messages = (Message("user", "Weather?"), Message("tool", "sunny"))
        body = sent_json(self.send_and_capture(sentinel_key, chat(messages=messages)))
        assert body["contents"][1] == {"role": "user", "parts": [{"text": "sunny"}]}

    def test_no_system_instruction(self, sentinel_key: str) -> None:
        """Without system messages the body has no systemInstruction and no generationConfig."""
        body = sent_json(self.send_and_capture(sentinel_key, chat()))
        assert "systemInstruction" not in body
        assert "generationConfig" not in body

    def test_max_output_tokens(self, sentinel_key: str) -> None:
        """max_output_tokens becomes generationConfig.maxOutputTokens."""
        body = sent_json(self.send_and_capture(sentinel_key, chat(max_output_tokens=256)))
        assert body["generationConfig"] == {"maxOutputTokens": 256}

    def test_options_merged(self, sentinel_key: str) -> None:
        """Generation fields go into generationConfig; other options go to the top level."""
        options = {
            "temperature": 0.2,
            "generationConfig": {"topP": 0.9},
            "thinkingConfig": {"thinkingBudget": 0},
            "tools": [{"googleSearch": {}}],
            "safetySettings": [],
        }
        body = sent_json(self.send_and_capture(sentinel_key, chat(options=options, max_output_tokens=64)))
        assert body["generationConfig"] == {
            "topP": 0.9,
            "temperature": 0.2,
            "thinkingConfig": {"thinkingBudget": 0},
            "maxOutputTokens": 64,
        }
        assert body["tools"] == [{"googleSearch": {}}]
        assert body["safetySettings"] == []
        assert "temperature" not in body

    def test_stream_format_not_sent(self, sentinel_key: str) -> None:
        """The stream_format option selects the framing and is not sent."""
        body = sent_json(self.send_and_capture(sentinel_key, chat(options={"stream_format": "json-array"})))
        assert "stream_format" not in body

    def test_conflicting_max_tokens(self, sentinel_key: str) -> None:
        """Different max_output_tokens and maxOutputTokens option are rejected."""
        transport = httpx.MockTransport(lambda request: json_response(200, OK_BODY))
        request = chat(max_output_tokens=10, options={"maxOutputTokens": 20})
        with pytest.raises(ConfigurationError, match="disagree"):
            make_driver(transport, sentinel_key).send(request)

    def test_generation_config_not_mapping(self, sentinel_key: str) -> None:
        """A generationConfig option that is not a mapping is rejected."""
        transport = httpx.MockTransport(lambda request: json_response(200, OK_BODY))
        with pytest.raises(ConfigurationError, match="generationConfig"):
            make_driver(transport, sentinel_key).send(chat(options={"generationConfig": 3}))

    def test_only_system_messages(self, sentinel_key: str) -> None:
        """A request with only system messages is rejected before sending."""
        transport = httpx.MockTransport(lambda request: json_response(200, OK_BODY))
        with pytest.raises(ConfigurationError, match="only system"):
            make_driver(transport, sentinel_key).send(chat(messages=(Message("system", "x"),)))

    @pytest.mark.parametrize("model", ["gemini-2.5-pro", "models/gemini-2.5-pro"])
    def test_model_path(self, sentinel_key: str, model: str) -> None:
        """A models/ prefix is not doubled in the URL."""
        http = self.send_and_capture(sentinel_key, chat(model))
        assert http.url.path == f"{PREFIX}/gemini-2.5-pro:generateContent"

    def test_tuned_model_path(self, sentinel_key: str) -> None:
        """A tunedModels/ name is used as its own resource path."""
        http = self.send_and_capture(sentinel_key, chat("tunedModels/my-model"))
        assert http.url.path == "/v1beta/tunedModels/my-model:generateContent"

    @pytest.mark.parametrize("model", ["", "gemini:x", "gemini 2", "a?b"])
    def test_invalid_model(self, sentinel_key: str, model: str) -> None:
        """Empty names and names with URL syntax are rejected."""
        transport = httpx.MockTransport(lambda request: json_response(200, OK_BODY))
        with pytest.raises(ConfigurationError, match="model name"):
            make_driver(transport, sentinel_key).send(chat(model))

    def test_unsupported_operation(self, sentinel_key: str) -> None:
        """Operations other than chat, generate and embed are rejected."""
        transport = httpx.MockTransport(lambda request: json_response(200, OK_BODY))
        with pytest.raises(ConfigurationError, match="responses"):
            make_driver(transport, sentinel_key).send(chat(operation="responses"))

    def test_generate_operation(self, sentinel_key: str) -> None:
        """The generate operation calls generateContent too."""
        http = self.send_and_capture(sentinel_key, chat(operation="generate"))
        assert http.url.path == f"{PREFIX}/gemini-2.5-flash:generateContent"


class TestApiKey:
    """Where the key goes, and where it never goes."""

    def test_key_in_header_not_url(self, sentinel_key: str, caplog: pytest.LogCaptureFixture) -> None:
        """The key is sent in x-goog-api-key and never in the URL or the logs."""
        seen: list[httpx.Request] = []
        transport = sequence(json_response(200, OK_BODY), seen=seen)
        with caplog.at_level(logging.DEBUG):
            make_driver(transport, sentinel_key).send(chat())
        assert seen[0].headers["x-goog-api-key"] == sentinel_key
        assert "key" not in seen[0].url.params
        assert sentinel_key not in str(seen[0].url)
        assert sentinel_key not in caplog.text

    def test_stream_key_not_in_url(self, sentinel_key: str) -> None:
        """A stream request carries alt=sse and no key in its URL."""
        seen: list[httpx.Request] = []
        transport = sequence(httpx.Response(200, text='data: {"candidates": []}\n\n'), seen=seen)
        list(make_driver(transport, sentinel_key).stream(chat()))
        assert dict(seen[0].url.params) == {"alt": "sse"}
        assert seen[0].headers["x-goog-api-key"] == sentinel_key

    def test_repr_hides_key(self, sentinel_key: str) -> None:
        """The driver's repr shows whether a key is set, not the key."""
        driver = make_driver(httpx.MockTransport(lambda request: json_response(200, OK_BODY)), sentinel_key)
        assert sentinel_key not in repr(driver)
        assert "api_key=set" in repr(driver)

    def test_error_hides_key(self, sentinel_key: str, caplog: pytest.LogCaptureFixture) -> None:
        """Error messages and retry logs do not contain the key."""
        body = {"error": {"code": 503, "message": "Overloaded.", "status": "UNAVAILABLE"}}
        seen: list[httpx.Request] = []
        transport = sequence(
            json_response(503, body, {"Retry-After": "0"}), json_response(503, body, {"Retry-After": "0"}), seen=seen
        )
        with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as raised:
            make_driver(transport, sentinel_key, max_retries=1).send(chat())
        assert sentinel_key not in str(raised.value)
        assert sentinel_key not in repr(raised.value.body)
        assert sentinel_key not in caplog.text

    def test_gemini_api_key_variable(self, monkeypatch: pytest.MonkeyPatch, sentinel_key: str) -> None:
        """GEMINI_API_KEY is used when no api_key option is given."""
        monkeypatch.setenv("GEMINI_API_KEY", sentinel_key)
        monkeypatch.setenv("GOOGLE_API_KEY", "other-key")
        seen: list[httpx.Request] = []
        create_driver(transport=sequence(json_response(200, OK_BODY), seen=seen), max_retries=0).send(chat())
        assert seen[0].headers["x-goog-api-key"] == sentinel_key

    def test_google_api_key_variable(self, monkeypatch: pytest.MonkeyPatch, sentinel_key: str) -> None:
        """GOOGLE_API_KEY is used when GEMINI_API_KEY is unset or empty."""
        monkeypatch.setenv("GEMINI_API_KEY", "")
        monkeypatch.setenv("GOOGLE_API_KEY", sentinel_key)
        seen: list[httpx.Request] = []
        create_driver(transport=sequence(json_response(200, OK_BODY), seen=seen), max_retries=0).send(chat())
        assert seen[0].headers["x-goog-api-key"] == sentinel_key

    def test_option_beats_variable(self, monkeypatch: pytest.MonkeyPatch, sentinel_key: str) -> None:
        """An api_key option wins over the environment."""
        monkeypatch.setenv("GEMINI_API_KEY", "environment-key")
        seen: list[httpx.Request] = []
        make_driver(sequence(json_response(200, OK_BODY), seen=seen), sentinel_key).send(chat())
        assert seen[0].headers["x-goog-api-key"] == sentinel_key

    def test_missing_key(self) -> None:
        """Without any key, sending raises AuthenticationError before any request."""
        seen: list[httpx.Request] = []
        driver = create_driver(transport=sequence(json_response(200, OK_BODY), seen=seen), max_retries=0)
        with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
            driver.send(chat())
        assert seen == []

    def test_base_url_variable(self, monkeypatch: pytest.MonkeyPatch, sentinel_key: str) -> None:
        """GEMINI_BASE_URL replaces the default endpoint."""
        monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9/gemini/v1beta/")
        seen: list[httpx.Request] = []
        make_driver(sequence(json_response(200, OK_BODY), seen=seen), sentinel_key).send(chat())
        assert str(seen[0].url) == "http://127.0.0.1:9/gemini/v1beta/models/gemini-2.5-flash:generateContent"

    def test_default_base_url(self, sentinel_key: str) -> None:
        """Without options or variables the public endpoint is used."""
        seen: list[httpx.Request] = []
        make_driver(sequence(json_response(200, OK_BODY), seen=seen), sentinel_key).send(chat())
        assert str(seen[0].url) == f"{DEFAULT_BASE_URL}/models/gemini-2.5-flash:generateContent"

    def test_unknown_option(self, sentinel_key: str) -> None:
        """Unknown driver options are rejected."""
        with pytest.raises(ConfigurationError, match="stream_format"):
            create_driver(api_key=sentinel_key, stream_format="sse")


STREAM_CASES = [
    ("gemini-streamGenerateContent-sse-grounding-tooluse-01.sse", "gemini-2.5-pro", "sse"),
    ("gemini-streamGenerateContent-sse-plain-01.sse", "gemini-2.0-flash-exp", "sse"),
    ("gemini-streamGenerateContent-sse-thoughts-01.sse", "gemini-2.5-flash", "sse"),
    ("gemini-streamGenerateContent-int-enums-01.json", "gemini-2.0-flash", "json-array"),
    ("gemini-streamGenerateContent-thoughts-01.json", "gemini-flash-latest", "json-array"),
    ("gemini-streamGenerateContent-tool-call-thoughts-02.json", "gemini-3-flash-preview", "json-array"),
]


class TestStream:
    """Streams in both framings, sync and async, whole and in small pieces."""

    @pytest.mark.parametrize("chunk_size", [None, 7])
    @pytest.mark.parametrize(("name", "model", "framing"), STREAM_CASES)
    def test_sync_stream(
        self, recorded_payloads: Path, sentinel_key: str, name: str, model: str, framing: str, chunk_size: int | None
    ) -> None:
        """A recorded stream yields its text and ends with the last chunk's usage."""
        seen: list[httpx.Request] = []
        routes = {f"{PREFIX}/{model}:streamGenerateContent": name}
        transport = replay_transport(routes, requests=seen, chunk_size=chunk_size)
        stream = make_driver(transport, sentinel_key).stream(chat(model, options={"stream_format": framing}))
        text = "".join(chunk.text for chunk in stream)
        assert stream.response is not None
        assert stream.response.status == "complete"
        assert stream.response.streamed is True
        assert stream.response.text == text
        assert usage_as_expected(stream.response.usage) == expected(name)
        assert stream.response.model == expected_usage(name)["model"]
        assert seen[0].url.params.get("alt") == ("sse" if framing == "sse" else None)

    @pytest.mark.parametrize(("name", "model", "framing"), STREAM_CASES)
    def test_async_stream(
        self, recorded_payloads: Path, sentinel_key: str, name: str, model: str, framing: str
    ) -> None:
        """The async stream yields the same text and usage, in small pieces."""
        transport = async_chunked({f"{PREFIX}/{model}:streamGenerateContent": name}, chunk_size=5)
        driver = make_driver(transport, sentinel_key)

        async def run() -> tuple[str, Any]:
            stream = driver.astream(chat(model, options={"stream_format": framing}))
            pieces = [chunk.text async for chunk in stream]
            await driver.aclose()
            return "".join(pieces), stream.response

        text, response = asyncio.run(run())
        assert response.status == "complete"
        assert response.text == text
        assert usage_as_expected(response.usage) == expected(name)

    def test_sse_text(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """The SSE chunks' texts are joined in order."""
        name = "gemini-streamGenerateContent-sse-plain-01.sse"
        transport = replay_transport({f"{PREFIX}/gemini-2.0-flash-exp:streamGenerateContent": name}, chunk_size=3)
        stream = make_driver(transport, sentinel_key).stream(chat("gemini-2.0-flash-exp"))
        assert [chunk.text for chunk in stream] == ["The", " capital of France", " is Paris.\n"]
        assert stream.response is not None
        assert stream.response.finish_reason == "STOP"

    def test_thoughts_and_calls(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """Streamed thoughts and function calls go to metadata, not text."""
        name = "gemini-streamGenerateContent-tool-call-thoughts-01.json"
        routes = {f"{PREFIX}/gemini-2.5-flash:streamGenerateContent": name}
        stream = make_driver(replay_transport(routes), sentinel_key).stream(
            chat(options={"stream_format": "json-array"})
        )
        text = "".join(chunk.text for chunk in stream)
        assert stream.response is not None
        assert text == ""
        assert stream.response.metadata["thoughts"].startswith("**Generating Pelican Names**")
        assert stream.response.metadata["function_calls"] == [{"name": "pelican_name_generator", "args": {}}]

    def test_closed_early(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """A stream closed after its first chunk ends closed, with the usage received so far."""
        name = "gemini-streamGenerateContent-sse-plain-01.sse"
        routes = {f"{PREFIX}/gemini-2.0-flash-exp:streamGenerateContent": name}
        stream = make_driver(replay_transport(routes, chunk_size=16), sentinel_key).stream(chat("gemini-2.0-flash-exp"))
        first = next(stream)
        stream.close()
        assert first.text == "The"
        assert stream.response is not None
        assert stream.response.status == "closed"
        assert stream.response.usage == Usage(input_tokens=15)

    def test_async_closed_early(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """The async stream closed after its first chunk ends closed too."""
        name = "gemini-streamGenerateContent-int-enums-01.json"
        routes = {f"{PREFIX}/gemini-2.0-flash:streamGenerateContent": name}
        driver = make_driver(async_chunked(routes, chunk_size=64), sentinel_key)

        async def run() -> Any:
            stream = driver.astream(chat("gemini-2.0-flash", options={"stream_format": "json-array"}))
            await stream.__anext__()
            await stream.aclose()
            await driver.aclose()
            return stream.response

        response = asyncio.run(run())
        assert response.status == "closed"
        assert response.usage == Usage(input_tokens=9)

    def test_error_inside_array(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """An error element inside a 200 JSON-array stream raises ServerError and interrupts it."""
        name = "gemini-streamGenerateContent-error-503-array-01.json"
        routes = {f"{PREFIX}/gemini-2.5-flash:streamGenerateContent": (200, name)}
        stream = make_driver(replay_transport(routes, chunk_size=10), sentinel_key).stream(
            chat(options={"stream_format": "json-array"})
        )
        with pytest.raises(ServerError) as raised:
            list(stream)
        assert raised.value.status_code == 503
        assert stream.response is not None
        assert stream.response.status == "interrupted"

    def test_error_event_in_sse(self, sentinel_key: str) -> None:
        """An error event after some SSE chunks raises the mapped error."""
        pieces = [
            b'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}],',
            b' "usageMetadata": {"promptTokenCount": 4}}',
            b"\n\n",
            b'data: {"error": {"code": 429, "message": "Slow down.", "status": "RESOURCE_EXHAUSTED"}}\n\n',
        ]
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=iter(pieces)))
        stream = make_driver(transport, sentinel_key).stream(chat())
        texts = []
        with pytest.raises(RateLimitError):
            for chunk in stream:
                texts.append(chunk.text)
        assert texts == ["Hel"]
        assert stream.response is not None
        assert stream.response.usage == Usage(input_tokens=4)

    def test_error_status_on_open(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """A 503 response with the array error body raises ServerError when the stream opens."""
        name = "gemini-streamGenerateContent-error-503-array-01.json"
        routes = {f"{PREFIX}/gemini-2.5-flash:streamGenerateContent": (503, name)}
        stream = make_driver(replay_transport(routes), sentinel_key).stream(
            chat(options={"stream_format": "json-array"})
        )
        with pytest.raises(ServerError) as raised:
            next(stream)
        assert raised.value.status_code == 503

    def test_invalid_stream_format(self, sentinel_key: str) -> None:
        """An unknown stream_format is rejected."""
        driver = make_driver(httpx.MockTransport(lambda request: json_response(200, OK_BODY)), sentinel_key)
        with pytest.raises(ConfigurationError, match="stream_format"):
            driver.stream(chat(options={"stream_format": "ndjson"}))


ERROR_CASES = [
    ("gemini-generateContent-error-400-auth-01.json", 400, AuthenticationError),
    ("gemini-generateContent-error-403-01.json", 403, AuthenticationError),
    ("gemini-generateContent-error-404-01.json", 404, ModelNotFoundError),
    ("gemini-generateContent-error-429-01.json", 429, RateLimitError),
    ("gemini-generateContent-error-429-02.json", 429, RateLimitError),
    ("gemini-generateContent-error-500-01.json", 500, ServerError),
    ("gemini-generateContent-error-503-01.json", 503, ServerError),
    ("gemini-streamGenerateContent-error-503-array-01.json", 503, ServerError),
]


class TestErrors:
    """Recorded error bodies through the driver."""

    @pytest.mark.parametrize(("name", "status", "error_class"), ERROR_CASES)
    def test_error_class(
        self, recorded_payloads: Path, sentinel_key: str, name: str, status: int, error_class: type[ProviderError]
    ) -> None:
        """Each recorded error body raises exactly its error class with its status."""
        transport = replay_transport({f"{PREFIX}/gemini-2.5-flash:generateContent": (status, name)})
        with pytest.raises(ProviderError) as raised:
            make_driver(transport, sentinel_key).send(chat())
        assert type(raised.value) is error_class
        assert raised.value.status_code == status
        assert raised.value.provider == "gemini"

    @pytest.mark.parametrize(
        ("name", "delay"),
        [("gemini-generateContent-error-429-01.json", 48.0), ("gemini-generateContent-error-429-02.json", 34.4)],
    )
    def test_retry_delay_read(self, recorded_payloads: Path, sentinel_key: str, name: str, delay: float) -> None:
        """The RetryInfo delay of a recorded 429 becomes retry_after."""
        transport = replay_transport({f"{PREFIX}/gemini-2.5-flash:generateContent": (429, name)})
        with pytest.raises(RateLimitError) as raised:
            make_driver(transport, sentinel_key).send(chat())
        assert raised.value.retry_after == delay

    @pytest.mark.parametrize(("name", "status", "error_class"), ERROR_CASES)
    def test_async_error_class(
        self, recorded_payloads: Path, sentinel_key: str, name: str, status: int, error_class: type[ProviderError]
    ) -> None:
        """asend() raises the same error classes."""
        transport = replay_transport({f"{PREFIX}/gemini-2.5-flash:generateContent": (status, name)})
        driver = make_driver(transport, sentinel_key)
        with pytest.raises(ProviderError) as raised:
            asyncio.run(driver.asend(chat()))
        assert type(raised.value) is error_class


def rate_limit_body(delay: str) -> dict[str, Any]:
    """A per-minute 429 body with a RetryInfo delay."""
    return {
        "error": {
            "code": 429,
            "message": "Quota exceeded.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
            ],
        }
    }


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the driver's retry sleeps instead of sleeping."""
    recorded: list[float] = []

    async def fake_async_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr("costkit.drivers.time.sleep", recorded.append)
    monkeypatch.setattr("costkit.drivers.asyncio.sleep", fake_async_sleep)
    return recorded


class TestRetries:
    """Rate limits and 5xx are retried up to max_retries; other 4xx never."""

    def test_server_error_retried(self, recorded_payloads: Path, sentinel_key: str, sleeps: list[float]) -> None:
        """503 then 200 succeeds on the second attempt, honouring Retry-After."""
        outcomes: list[tuple[int, str]] = [
            (503, "gemini-generateContent-error-503-01.json"),
            (200, "gemini-generateContent-tool-call-01.json"),
        ]
        seen: list[httpx.Request] = []
        route: Callable[[httpx.Request], tuple[int, str]] = lambda request: outcomes.pop(0)  # noqa: E731
        transport = replay_transport(route, requests=seen, headers={"Retry-After": "0"})
        response = make_driver(transport, sentinel_key, max_retries=2).send(chat("gemini-2.0-flash"))
        assert len(seen) == 2
        assert sleeps == [0.0]
        assert response.usage == Usage(input_tokens=21, output_tokens=7)

    def test_retries_exhausted(self, recorded_payloads: Path, sentinel_key: str, sleeps: list[float]) -> None:
        """With max_retries=2, three 500s raise ServerError after three attempts."""
        seen: list[httpx.Request] = []
        route = lambda request: (500, "gemini-generateContent-error-500-01.json")  # noqa: E731
        transport = replay_transport(route, requests=seen, headers={"Retry-After": "0"})
        with pytest.raises(ServerError):
            make_driver(transport, sentinel_key, max_retries=2).send(chat())
        assert len(seen) == 3
        assert sleeps == [0.0, 0.0]

    def test_retry_info_honoured(self, sentinel_key: str, sleeps: list[float]) -> None:
        """A 429 is retried after its RetryInfo delay."""
        seen: list[httpx.Request] = []
        transport = sequence(json_response(429, rate_limit_body("2.5s")), json_response(200, OK_BODY), seen=seen)
        response = make_driver(transport, sentinel_key, max_retries=1).send(chat())
        assert len(seen) == 2
        assert sleeps == [2.5]
        assert response.text == "Hi"

    def test_retry_info_over_header(self, sentinel_key: str, sleeps: list[float]) -> None:
        """The body's RetryInfo wins over a Retry-After header."""
        seen: list[httpx.Request] = []
        transport = sequence(
            json_response(429, rate_limit_body("1s"), {"Retry-After": "0"}), json_response(200, OK_BODY), seen=seen
        )
        make_driver(transport, sentinel_key, max_retries=1).send(chat())
        assert sleeps == [1.0]

    def test_quota_not_retried(self, sentinel_key: str, sleeps: list[float]) -> None:
        """A daily-quota 429 is raised at once."""
        body = rate_limit_body("0s")
        body["error"]["details"][0]["violations"] = [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}]
        seen: list[httpx.Request] = []
        transport = sequence(json_response(429, body), json_response(200, OK_BODY), seen=seen)
        with pytest.raises(QuotaExceededError):
            make_driver(transport, sentinel_key, max_retries=2).send(chat())
        assert len(seen) == 1
        assert sleeps == []

    @pytest.mark.parametrize(
        ("name", "status"),
        [
            ("gemini-generateContent-error-400-auth-01.json", 400),
            ("gemini-generateContent-error-403-01.json", 403),
            ("gemini-generateContent-error-404-01.json", 404),
        ],
    )
    def test_client_errors_not_retried(
        self, recorded_payloads: Path, sentinel_key: str, sleeps: list[float], name: str, status: int
    ) -> None:
        """400, 403 and 404 are raised after one attempt."""
        seen: list[httpx.Request] = []
        transport = replay_transport(lambda request: (status, name), requests=seen, headers={"Retry-After": "0"})
        with pytest.raises(ProviderError):
            make_driver(transport, sentinel_key, max_retries=3).send(chat())
        assert len(seen) == 1
        assert sleeps == []

    def test_invalid_request_not_retried(self, sentinel_key: str, sleeps: list[float]) -> None:
        """A plain 400 is an invalid request and is not retried."""
        body = {"error": {"code": 400, "message": "Bad field.", "status": "INVALID_ARGUMENT"}}
        seen: list[httpx.Request] = []
        transport = sequence(json_response(400, body), json_response(200, OK_BODY), seen=seen)
        with pytest.raises(InvalidRequestError):
            make_driver(transport, sentinel_key, max_retries=3).send(chat())
        assert len(seen) == 1

    def test_async_retry(self, sentinel_key: str, sleeps: list[float]) -> None:
        """asend() retries a 429 after its delay too."""
        seen: list[httpx.Request] = []
        transport = sequence(json_response(429, rate_limit_body("0.5s")), json_response(200, OK_BODY), seen=seen)
        response = asyncio.run(make_driver(transport, sentinel_key, max_retries=1).asend(chat()))
        assert len(seen) == 2
        assert sleeps == [0.5]
        assert response.text == "Hi"

    def test_stream_open_retried(self, recorded_payloads: Path, sentinel_key: str, sleeps: list[float]) -> None:
        """A stream whose first response is 503 is opened again."""
        outcomes = [
            (503, "gemini-generateContent-error-503-01.json"),
            (200, "gemini-streamGenerateContent-sse-tool-01.sse"),
        ]
        seen: list[httpx.Request] = []
        transport = replay_transport(lambda request: outcomes.pop(0), requests=seen, headers={"Retry-After": "0"})
        stream = make_driver(transport, sentinel_key, max_retries=1).stream(chat())
        list(stream)
        assert len(seen) == 2
        assert stream.response is not None
        assert usage_as_expected(stream.response.usage) == expected("gemini-streamGenerateContent-sse-tool-01.sse")


class TestEmbed:
    """The embed operation."""

    def test_single_text(self, sentinel_key: str) -> None:
        """One message calls embedContent with its text and the options."""
        seen: list[httpx.Request] = []
        payload = {"embedding": {"values": [0.1, 0.2]}}
        transport = sequence(json_response(200, payload), seen=seen)
        request = chat("gemini-embedding-001", operation="embed", options={"outputDimensionality": 2})
        response = make_driver(transport, sentinel_key).send(request)
        assert seen[0].url.path == f"{PREFIX}/gemini-embedding-001:embedContent"
        assert sent_json(seen[0]) == {"content": {"parts": [{"text": "Hello"}]}, "outputDimensionality": 2}
        assert response.metadata["embeddings"] == [[0.1, 0.2]]

    def test_batch_texts(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """Several messages call batchEmbedContents; the recorded usage is read."""
        name = "gemini-batchEmbedContents-with-usage-01.json"
        seen: list[httpx.Request] = []
        routes = {f"{PREFIX}/gemini-embedding-2:batchEmbedContents": name}
        messages = (Message("user", "one"), Message("user", "two"))
        request = chat("models/gemini-embedding-2", operation="embed", messages=messages)
        response = make_driver(replay_transport(routes, requests=seen), sentinel_key).send(request)
        assert sent_json(seen[0]) == {
            "requests": [
                {"model": "models/gemini-embedding-2", "content": {"parts": [{"text": "one"}]}},
                {"model": "models/gemini-embedding-2", "content": {"parts": [{"text": "two"}]}},
            ]
        }
        assert usage_as_expected(response.usage) == expected(name)
        assert len(response.metadata["embeddings"]) == 1
        assert response.text == ""

    def test_no_usage_estimated(self, recorded_payloads: Path, sentinel_key: str) -> None:
        """Embeddings recorded without usage are estimated from the input."""
        name = "gemini-batchEmbedContents-no-usage-01.json"
        routes = {f"{PREFIX}/gemini-embedding-001:batchEmbedContents": name}
        messages = (Message("user", "one"), Message("user", "two"))
        request = chat("gemini-embedding-001", operation="embed", messages=messages)
        response = make_driver(replay_transport(routes), sentinel_key).send(request)
        assert response.usage is not None
        assert response.usage.estimated is True
        assert response.usage.output_tokens == 0

    def test_stream_rejected(self, sentinel_key: str) -> None:
        """Embeddings cannot be streamed."""
        driver = make_driver(httpx.MockTransport(lambda request: json_response(200, OK_BODY)), sentinel_key)
        with pytest.raises(ConfigurationError, match="cannot be streamed"):
            driver.stream(chat("gemini-embedding-001", operation="embed"))
