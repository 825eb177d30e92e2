"""Error mapping of the OpenAI driver, and retries of rate limits and server errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import costkit.drivers
from costkit import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    Request,
    ServerError,
)
from costkit.testing import replay_transport
from costkit_openai._driver import OpenAIDriver

SENTINEL_KEY = "sk-openai-test-sentinel-77ab1e"

RECORDED_ERRORS = [
    ("openai-chat-completions-error-401-01.json", 401, AuthenticationError),
    ("openai-responses-error-401-01.json", 401, AuthenticationError),
    ("ollama-v1-chat-completions-error-401-01.json", 401, AuthenticationError),
    ("openai-chat-completions-error-429-01.json", 429, RateLimitError),
    ("openrouter-chat-completions-error-429-01.json", 429, RateLimitError),
    ("openai-chat-completions-error-404-01.json", 404, ModelNotFoundError),
    ("openai-embeddings-error-404-01.json", 404, ModelNotFoundError),
    ("openai-responses-error-400-02.json", 400, ModelNotFoundError),
    ("openai-responses-error-400-01.json", 400, ContextLengthExceededError),
    ("ollama-v1-chat-completions-error-400-01.json", 400, ContextLengthExceededError),
    ("openai-chat-completions-error-400-01.json", 400, InvalidRequestError),
    ("openai-chat-completions-error-400-02.json", 400, InvalidRequestError),
    ("openai-responses-error-500-01.json", 500, ServerError),
]

INSUFFICIENT_QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}


def make_driver(transport: httpx.MockTransport, **options: Any) -> OpenAIDriver:
    options.setdefault("max_retries", 0)
    return OpenAIDriver(api_key=SENTINEL_KEY, transport=transport, **options)


def make_request() -> Request:
    return Request(provider="openai", model="gpt-4o-mini", messages="Hello")


def responding(*responses: httpx.Response, seen: list[httpx.Request]) -> httpx.MockTransport:
    """Return the given responses to successive requests, repeating the last one."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return httpx.MockTransport(handle)


def chat_body() -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "choices": [{"message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the retry delays instead of sleeping through them."""
    delays: list[float] = []
    monkeypatch.setattr(costkit.drivers.time, "sleep", delays.append)
    return delays


class TestRecordedErrors:
    @pytest.mark.parametrize(("name", "status", "error_class"), RECORDED_ERRORS)
    def test_error_class(
        self, recorded_payloads: Path, name: str, status: int, error_class: type[ProviderError]
    ) -> None:
        """Each recorded error body raises exactly its error class with the status."""
        driver = make_driver(replay_transport(lambda request: (status, name)))
        with pytest.raises(ProviderError) as raised:
            driver.send(make_request())
        assert type(raised.value) is error_class
        assert raised.value.status_code == status
        assert raised.value.provider == "openai"

    @pytest.mark.parametrize(("name", "status", "error_class"), RECORDED_ERRORS)
    def test_stream_error_class(
        self, recorded_payloads: Path, name: str, status: int, error_class: type[ProviderError]
    ) -> None:
        """A stream opened on an error response raises the same class as a send."""
        driver = make_driver(replay_transport(lambda request: (status, name)))
        with pytest.raises(ProviderError) as raised:
            list(driver.stream(make_request()))
        assert type(raised.value) is error_class

    def test_message_has_provider_text_and_next_step(self, recorded_payloads: Path) -> None:
        """The message carries the provider's own message, its code and a next step."""
        driver = make_driver(replay_transport(lambda request: (401, "openai-chat-completions-error-401-01.json")))
        with pytest.raises(AuthenticationError) as raised:
            driver.send(make_request())
        message = str(raised.value)
        assert "Incorrect API key provided" in message
        assert "invalid_api_key" in message
        assert "OPENAI_API_KEY" in message
        assert SENTINEL_KEY not in message

    def test_model_not_found_names_model(self, recorded_payloads: Path) -> None:
        """The Responses API's 400 model_not_found keeps the model name in the message."""
        driver = make_driver(replay_transport(lambda request: (400, "openai-responses-error-400-02.json")))
        with pytest.raises(ModelNotFoundError, match=r"gpt-5\.2-proo"):
            driver.send(make_request())

    def test_request_id_in_message(self, recorded_payloads: Path) -> None:
        """The x-request-id header is quoted so support can find the request."""
        transport = replay_transport(
            lambda request: (500, "openai-responses-error-500-01.json"), headers={"x-request-id": "req_abc123"}
        )
        with pytest.raises(ServerError, match="req_abc123"):
            make_driver(transport).send(make_request())


class TestInlineErrors:
    def test_insufficient_quota(self) -> None:
        """A 429 with code insufficient_quota is a QuotaExceededError."""
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(429, json=INSUFFICIENT_QUOTA), seen=seen)
        with pytest.raises(QuotaExceededError, match="billing"):
            make_driver(transport).send(make_request())
        assert len(seen) == 1

    def test_plain_text_body(self) -> None:
        """A non-JSON error body still produces a message with its text."""
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(502, text="Bad Gateway"), seen=seen)
        with pytest.raises(ServerError, match="Bad Gateway"):
            make_driver(transport).send(make_request())

    def test_empty_body(self) -> None:
        """An empty error body still produces a readable message."""
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(503), seen=seen)
        with pytest.raises(ServerError, match="HTTP 503"):
            make_driver(transport).send(make_request())

    def test_unknown_endpoint(self) -> None:
        """A 404 that is not about a model points at the base_url."""
        body = {"error": {"message": "Invalid URL (POST /v1/chat/completion)", "type": "invalid_request_error"}}
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(404, json=body), seen=seen)
        with pytest.raises(InvalidRequestError, match="base_url"):
            make_driver(transport).send(make_request())

    def test_forbidden(self) -> None:
        """A 403 is an AuthenticationError."""
        body = {"error": {"message": "Project does not have access", "code": "unsupported_country_region_territory"}}
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(403, json=body), seen=seen)
        with pytest.raises(AuthenticationError):
            make_driver(transport).send(make_request())

    def test_keyless_server_unauthorized(self) -> None:
        """A 401 from a server the driver sent no key to says to set one."""
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(401, json={"error": {"message": "Unauthorized"}}), seen=seen)
        driver = OpenAIDriver(base_url="http://127.0.0.1:8000/v1", transport=transport, max_retries=0)
        with pytest.raises(AuthenticationError, match="pass api_key"):
            driver.send(make_request())


class TestRetries:
    def test_rate_limit_retried(self, sleeps: list[float]) -> None:
        """A 429 is retried after the Retry-After delay, and the retry succeeds."""
        seen: list[httpx.Request] = []
        limited = httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "7"})
        transport = responding(limited, httpx.Response(200, json=chat_body()), seen=seen)
        response = make_driver(transport, max_retries=2).send(make_request())
        assert response.text == "Hi"
        assert len(seen) == 2
        assert sleeps == [7.0]

    def test_retry_after_ms(self, sleeps: list[float]) -> None:
        """retry-after-ms is honoured in milliseconds."""
        seen: list[httpx.Request] = []
        limited = httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after-ms": "250"})
        transport = responding(limited, httpx.Response(200, json=chat_body()), seen=seen)
        make_driver(transport, max_retries=1).send(make_request())
        assert sleeps == [0.25]

    def test_server_error_retried(self, recorded_payloads: Path) -> None:
        """A 500 is retried and the next response is used."""
        seen: list[httpx.Request] = []
        outcomes = iter([(500, "openai-responses-error-500-01.json"), (200, "openai-chat-completions-plain-02.json")])

        def route(request: httpx.Request) -> tuple[int, str]:
            return next(outcomes)

        transport = replay_transport(route, requests=seen, headers={"retry-after": "0"})
        response = make_driver(transport, max_retries=1).send(make_request())
        assert len(seen) == 2
        assert response.model == "gpt-4o-mini-2024-07-18"

    def test_retries_exhausted(self, recorded_payloads: Path) -> None:
        """After max_retries extra attempts the last error is raised."""
        seen: list[httpx.Request] = []
        transport = replay_transport(
            lambda request: (429, "openai-chat-completions-error-429-01.json"),
            requests=seen,
            headers={"retry-after": "0"},
        )
        with pytest.raises(RateLimitError) as raised:
            make_driver(transport, max_retries=2).send(make_request())
        assert len(seen) == 3
        assert raised.value.retry_after == 0.0

    def test_retry_after_on_error(self, recorded_payloads: Path) -> None:
        """A RateLimitError that is not retried carries the Retry-After delay."""
        transport = replay_transport(
            lambda request: (429, "openrouter-chat-completions-error-429-01.json"), headers={"retry-after": "3"}
        )
        with pytest.raises(RateLimitError) as raised:
            make_driver(transport).send(make_request())
        assert raised.value.retry_after == 3.0

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (400, {"error": {"message": "bad", "code": "unsupported_value"}}),
            (401, {"error": {"message": "bad key", "code": "invalid_api_key"}}),
            (404, {"error": {"message": "no model", "code": "model_not_found"}}),
            (429, INSUFFICIENT_QUOTA),
        ],
    )
    def test_not_retried(self, sleeps: list[float], status: int, body: dict[str, Any]) -> None:
        """Client errors and exhausted quota are raised at once, never retried."""
        seen: list[httpx.Request] = []
        transport = responding(httpx.Response(status, json=body), httpx.Response(200, json=chat_body()), seen=seen)
        with pytest.raises(ProviderError):
            make_driver(transport, max_retries=3).send(make_request())
        assert len(seen) == 1
        assert sleeps == []

    def test_stream_retried(self, recorded_payloads: Path) -> None:
        """A stream whose opening request hits a 429 is retried before any chunk."""
        seen: list[httpx.Request] = []
        outcomes = iter(
            [
                (429, "openai-chat-completions-error-429-01.json"),
                (200, "openai-chat-completions-stream-text-usage-01.sse"),
            ]
        )

        def route(request: httpx.Request) -> tuple[int, str]:
            return next(outcomes)

        transport = replay_transport(route, requests=seen, headers={"retry-after": "0"})
        stream = make_driver(transport, max_retries=1).stream(make_request())
        list(stream)
        assert len(seen) == 2
        assert stream.response is not None
        assert stream.response.status == "complete"
