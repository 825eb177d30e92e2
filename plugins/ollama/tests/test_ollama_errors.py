"""Error responses, stream errors, retries, refused connections and API-key hiding."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from costkit import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderConnectionError,
    RateLimitError,
    Request,
    ServerError,
)
from costkit.testing import replay_transport
from costkit_ollama import OllamaDriver

SENTINEL_KEY = "ollama-test-sentinel-key-5f0c1e"
"""A fake API key that the tests search for in URLs, reprs, messages and logs."""
OK_BODY = {"model": "llama3.2", "message": {"role": "assistant", "content": "Hi"}, "done": True, "eval_count": 1}


def _request(operation: str = "chat") -> Request:
    return Request(provider="ollama", model="llama3.2", messages="Hello", operation=operation)


def _respond_with(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handle)


def _sequence(responses: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Return the next response of ``responses`` for each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[len(seen) - 1]

    return httpx.MockTransport(handle)


def _refused(seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return httpx.MockTransport(handle)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr("costkit.drivers.time.sleep", delays.append)
    return delays


# --- Error bodies -----------------------------------------------------------------------------


def test_recorded_404_model_not_found(make_driver: Callable[..., OllamaDriver], recorded_payloads: object) -> None:
    """The recorded 404 body raises ModelNotFoundError with the pull command."""
    driver = make_driver(replay_transport({"/api/chat": (404, "ollama-api-error-404-01.json")}))
    with pytest.raises(ModelNotFoundError) as raised:
        driver.send(_request())
    assert raised.value.status_code == 404
    assert "`ollama pull custom-phi3-32k-Q4_K_M`" in str(raised.value)
    assert raised.value.body == {"error": "model 'custom-phi3-32k-Q4_K_M' not found"}


class TestErrorMapping:
    """Each error response maps to one error class."""

    def test_new_style_model_not_found(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The newer double-quoted message names the model in the pull command."""
        body = {"error": 'model "llama3.2" not found, try pulling it first'}
        with pytest.raises(ModelNotFoundError, match=r"`ollama pull llama3\.2`"):
            make_driver(_respond_with(404, body)).send(_request())

    def test_model_name_unreadable(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A model-not-found message without a quoted name still gives the pull command."""
        with pytest.raises(ModelNotFoundError, match=r"`ollama pull MODEL`"):
            make_driver(_respond_with(404, {"error": "model not found"})).send(_request())

    def test_404_without_model(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A 404 for an unknown path is InvalidRequestError that suggests an upgrade."""
        with pytest.raises(InvalidRequestError, match="upgrade Ollama") as raised:
            make_driver(_respond_with(404, "404 page not found")).send(_request("embed"))
        assert type(raised.value) is InvalidRequestError

    def test_400_invalid_request(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A 400 is InvalidRequestError carrying Ollama's message."""
        with pytest.raises(InvalidRequestError, match="invalid options") as raised:
            make_driver(_respond_with(400, {"error": "invalid options"})).send(_request())
        assert type(raised.value) is InvalidRequestError
        assert raised.value.status_code == 400

    def test_context_length(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An input longer than the context is ContextLengthExceededError."""
        body = {"error": "the input length exceeds the context length"}
        with pytest.raises(ContextLengthExceededError):
            make_driver(_respond_with(400, body)).send(_request("embed"))

    @pytest.mark.parametrize("status", [401, 403])
    def test_authentication(self, make_driver: Callable[..., OllamaDriver], status: int) -> None:
        """401 and 403 are AuthenticationError naming OLLAMA_API_KEY."""
        with pytest.raises(AuthenticationError, match="OLLAMA_API_KEY"):
            make_driver(_respond_with(status, {"error": "unauthorized"})).send(_request())

    def test_rate_limit(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A 429 is RateLimitError with the Retry-After delay."""
        with pytest.raises(RateLimitError) as raised:
            make_driver(_respond_with(429, {"error": "too many requests"}, {"Retry-After": "3"})).send(_request())
        assert raised.value.retry_after == 3.0

    def test_server_error(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A 500 is ServerError carrying Ollama's message."""
        body = {"error": "model requires more system memory (5.5 GiB) than is available (2.0 GiB)"}
        with pytest.raises(ServerError, match="more system memory") as raised:
            make_driver(_respond_with(500, body)).send(_request())
        assert raised.value.status_code == 500

    def test_error_in_200_body(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An error object in a successful response is ServerError."""
        with pytest.raises(ServerError, match="unexpected EOF"):
            make_driver(_respond_with(200, {"error": "unexpected EOF"})).send(_request())

    def test_stream_opening_404(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A stream whose request is rejected raises the mapped error on first read."""
        body = {"error": 'model "llama3.2" not found, try pulling it first'}
        stream = make_driver(_respond_with(404, body)).stream(_request())
        with pytest.raises(ModelNotFoundError):
            next(stream)


class TestStreamError:
    """An {"error": ...} object inside an NDJSON stream."""

    LINES = (
        json.dumps({"model": "llama3.2", "message": {"role": "assistant", "content": "Hel"}, "done": False})
        + "\n"
        + json.dumps({"error": "an error was encountered while running the model: unexpected EOF"})
        + "\n"
    )

    def test_raises_server_error(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The error object raises ServerError carrying the object."""
        stream = make_driver(_respond_with(200, self.LINES)).stream(_request())
        with pytest.raises(ServerError, match="unexpected EOF") as raised:
            list(stream)
        assert raised.value.body == {"error": "an error was encountered while running the model: unexpected EOF"}
        assert raised.value.status_code is None

    def test_response_interrupted(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The stream ends as interrupted, with the text received so far."""
        stream = make_driver(_respond_with(200, self.LINES)).stream(_request())
        with pytest.raises(ServerError):
            list(stream)
        assert stream.response is not None
        assert stream.response.status == "interrupted"
        assert stream.response.text == "Hel"

    def test_async_raises_server_error(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An async stream raises ServerError for the error object too."""
        driver = make_driver(_respond_with(200, self.LINES))

        async def run() -> None:
            async for _chunk in driver.astream(_request()):
                pass

        with pytest.raises(ServerError, match="unexpected EOF"):
            asyncio.run(run())


# --- Retries ---------------------------------------------------------------------------------


class TestRetries:
    """Rate limits and 5xx are retried up to max_retries; other 4xx never."""

    def test_429_retried_with_retry_after(
        self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float]
    ) -> None:
        """Two 429s are retried after their Retry-After, then the response arrives."""
        seen: list[httpx.Request] = []
        limited = httpx.Response(429, json={"error": "busy"}, headers={"Retry-After": "7"})
        transport = _sequence([limited, limited, httpx.Response(200, json=OK_BODY)], seen)
        response = make_driver(transport, max_retries=2).send(_request())
        assert response.text == "Hi"
        assert len(seen) == 3
        assert no_sleep == [7.0, 7.0]

    def test_5xx_retried_until_max(self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float]) -> None:
        """A 503 is retried max_retries times, then raised as ServerError."""
        seen: list[httpx.Request] = []
        failing = httpx.Response(503, json={"error": "server busy"}, headers={"Retry-After": "0"})
        transport = _sequence([failing, failing, failing], seen)
        with pytest.raises(ServerError):
            make_driver(transport, max_retries=2).send(_request())
        assert len(seen) == 3
        assert no_sleep == [0.0, 0.0]

    @pytest.mark.parametrize("status", [400, 401, 404])
    def test_4xx_not_retried(
        self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float], status: int
    ) -> None:
        """Other 4xx responses are raised at once."""
        seen: list[httpx.Request] = []
        transport = _sequence([httpx.Response(status, json={"error": "model 'x' not found"})] * 3, seen)
        with pytest.raises(InvalidRequestError if status == 400 else (AuthenticationError, ModelNotFoundError)):
            make_driver(transport, max_retries=2).send(_request())
        assert len(seen) == 1
        assert no_sleep == []

    def test_async_429_retried(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """asend() retries a 429 too."""
        seen: list[httpx.Request] = []
        limited = httpx.Response(429, json={"error": "busy"}, headers={"Retry-After": "0"})
        transport = _sequence([limited, httpx.Response(200, json=OK_BODY)], seen)
        response = asyncio.run(make_driver(transport, max_retries=1).asend(_request()))
        assert response.text == "Hi"
        assert len(seen) == 2

    def test_stream_503_retried(self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float]) -> None:
        """Opening a stream retries a 503."""
        seen: list[httpx.Request] = []
        final = json.dumps({"model": "llama3.2", "response": "ok", "done": True, "eval_count": 1}) + "\n"
        failing = httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "0"})
        transport = _sequence([failing, httpx.Response(200, text=final)], seen)
        stream = make_driver(transport, max_retries=1).stream(_request("generate"))
        assert "".join(chunk.text for chunk in stream) == "ok"
        assert len(seen) == 2


# --- Refused connections ---------------------------------------------------------------------


class TestConnectionRefused:
    """No server at the address."""

    def test_names_url_and_fix(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A refused connection is ProviderConnectionError naming the URL and how to start Ollama."""
        with pytest.raises(ProviderConnectionError) as raised:
            make_driver(_refused()).send(_request())
        message = str(raised.value)
        assert "http://127.0.0.1:11434/api/chat" in message
        assert "`ollama serve`" in message
        assert "OLLAMA_HOST" in message
        assert isinstance(raised.value.__cause__, httpx.ConnectError)

    def test_names_configured_host(self, make_driver: Callable[..., OllamaDriver], monkeypatch: Any) -> None:
        """The message names the address from OLLAMA_HOST."""
        monkeypatch.setenv("OLLAMA_HOST", "gpu-box:8080")
        with pytest.raises(ProviderConnectionError, match=r"http://gpu-box:8080/api/generate"):
            make_driver(_refused()).send(_request("generate"))

    def test_retried(self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float]) -> None:
        """A refused connection is retried max_retries times."""
        seen: list[httpx.Request] = []
        with pytest.raises(ProviderConnectionError):
            make_driver(_refused(seen), max_retries=2).send(_request())
        assert len(seen) == 3

    def test_async(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """asend() raises ProviderConnectionError too."""
        with pytest.raises(ProviderConnectionError, match="ollama serve"):
            asyncio.run(make_driver(_refused()).asend(_request()))

    def test_stream(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A stream raises ProviderConnectionError on first read."""
        stream = make_driver(_refused()).stream(_request())
        with pytest.raises(ProviderConnectionError, match="ollama serve"):
            next(stream)


# --- API key ---------------------------------------------------------------------------------


class TestApiKey:
    """The optional key goes in the Authorization header and nowhere else."""

    def test_no_key_no_header(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """Without a key, no Authorization header is sent."""
        seen: list[httpx.Request] = []
        make_driver(_sequence([httpx.Response(200, json=OK_BODY)], seen)).send(_request())
        assert "authorization" not in seen[0].headers

    def test_key_as_bearer(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A key is sent as a Bearer token, never in the URL."""
        seen: list[httpx.Request] = []
        driver = make_driver(_sequence([httpx.Response(200, json=OK_BODY)], seen), api_key=SENTINEL_KEY)
        driver.send(_request())
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"
        assert SENTINEL_KEY not in str(seen[0].url)

    def test_key_from_environment(self, make_driver: Callable[..., OllamaDriver], monkeypatch: Any) -> None:
        """OLLAMA_API_KEY is used when no key is given."""
        monkeypatch.setenv("OLLAMA_API_KEY", SENTINEL_KEY)
        seen: list[httpx.Request] = []
        make_driver(_sequence([httpx.Response(200, json=OK_BODY)], seen)).send(_request())
        assert seen[0].headers["authorization"] == f"Bearer {SENTINEL_KEY}"

    def test_key_hidden(
        self, make_driver: Callable[..., OllamaDriver], no_sleep: list[float], caplog: pytest.LogCaptureFixture
    ) -> None:
        """The key appears in no repr, error message, error body or log record."""
        seen: list[httpx.Request] = []
        failing = httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "0"})
        driver = make_driver(_sequence([failing, failing], seen), api_key=SENTINEL_KEY, max_retries=1)
        with caplog.at_level(logging.DEBUG), pytest.raises(ServerError) as raised:
            driver.send(_request())
        assert SENTINEL_KEY not in repr(driver)
        assert SENTINEL_KEY not in str(raised.value)
        assert SENTINEL_KEY not in repr(raised.value.body)
        assert caplog.records
        assert SENTINEL_KEY not in caplog.text
        assert all(SENTINEL_KEY not in str(request.url) for request in seen)

    def test_key_hidden_on_refused(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A connection error message does not contain the key."""
        with pytest.raises(ProviderConnectionError) as raised:
            make_driver(_refused(), api_key=SENTINEL_KEY).send(_request())
        assert SENTINEL_KEY not in str(raised.value)
