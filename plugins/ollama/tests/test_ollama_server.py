"""Server address resolution, the model list and the health check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from costkit import ConfigurationError, ProviderConnectionError, ServerError
from costkit_ollama import OllamaDriver, OllamaModel, create_driver
from costkit_ollama._host import parse_host

TAGS = {
    "models": [
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2025-01-10T18:30:00.123456Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {"family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        },
        {"name": "nomic-embed-text:latest", "size": 274302450, "details": {"family": "nomic-bert"}},
    ]
}


def _routes(routes: dict[str, httpx.Response], seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return routes.get(request.url.path) or httpx.Response(599, text=f"no route for {request.url.path}")

    return httpx.MockTransport(handle)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


class TestParseHost:
    """parse_host() follows the address rules of the official client."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, "http://127.0.0.1:11434"),
            ("", "http://127.0.0.1:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            (":56789", "http://127.0.0.1:56789"),
            ("gpu-box:8080", "http://gpu-box:8080"),
            ("http://gpu-box", "http://gpu-box:80"),
            ("https://ollama.example", "https://ollama.example:443"),
            ("https://ollama.example:8443/ollama/", "https://ollama.example:8443/ollama"),
            ("example.com/path", "http://example.com:11434/path"),
            ("[::1]", "http://[::1]:11434"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("  localhost:11434  ", "http://localhost:11434"),
        ],
    )
    def test_address(self, value: str | None, expected: str) -> None:
        """Each address form resolves to its base URL."""
        assert parse_host(value) == expected

    def test_bad_scheme(self) -> None:
        """A scheme other than http or https raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="ftp"):
            parse_host("ftp://gpu-box")

    def test_bad_port(self) -> None:
        """A port that is not a number raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="invalid port"):
            parse_host("gpu-box:eleven")


class TestDriverAddress:
    """Where the driver sends requests."""

    def test_default(self) -> None:
        """Without settings the driver uses 127.0.0.1:11434."""
        assert create_driver().base_url == "http://127.0.0.1:11434"

    def test_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OLLAMA_HOST without a scheme sets the address."""
        monkeypatch.setenv("OLLAMA_HOST", "gpu-box:8080")
        assert create_driver().base_url == "http://gpu-box:8080"

    def test_option_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The base_url option wins over OLLAMA_HOST and accepts host:port too."""
        monkeypatch.setenv("OLLAMA_HOST", "gpu-box:8080")
        assert create_driver(base_url="localhost:9999").base_url == "http://localhost:9999"

    def test_requests_go_to_host(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Requests go to the configured address."""
        monkeypatch.setenv("OLLAMA_HOST", "https://ollama.example/ollama")
        seen: list[httpx.Request] = []
        driver = create_driver(transport=_routes({}, seen), max_retries=0)
        with pytest.raises(ServerError):
            driver.list_models()
        assert str(seen[0].url) == "https://ollama.example/ollama/api/tags"

    def test_unknown_option(self) -> None:
        """An unknown option raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="host"):
            create_driver(host="gpu-box")


class TestListModels:
    """list_models() and alist_models() read /api/tags."""

    def test_sync(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """The installed models come back with their details."""
        seen: list[httpx.Request] = []
        models = make_driver(_routes({"/api/tags": httpx.Response(200, json=TAGS)}, seen)).list_models()
        assert [model.name for model in models] == ["llama3.2:latest", "nomic-embed-text:latest"]
        assert models[0].size == 2019393189
        assert models[0].details["parameter_size"] == "3.2B"
        assert models[1].digest is None
        assert seen[0].method == "GET"

    def test_async(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """alist_models() gives the same list."""
        driver = make_driver(_routes({"/api/tags": httpx.Response(200, json=TAGS)}))
        models = asyncio.run(driver.alist_models())
        assert models[0] == OllamaModel(
            name="llama3.2:latest",
            size=2019393189,
            digest="a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            modified_at="2025-01-10T18:30:00.123456Z",
            details={"family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        )
        assert len(models) == 2

    def test_empty(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A server without models gives an empty list."""
        driver = make_driver(_routes({"/api/tags": httpx.Response(200, json={"models": []})}))
        assert driver.list_models() == []

    def test_bad_body(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A body without a models list raises ServerError."""
        driver = make_driver(_routes({"/api/tags": httpx.Response(200, text="<html>proxy</html>")}))
        with pytest.raises(ServerError, match="without a models list"):
            driver.list_models()

    def test_refused(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """No server gives ProviderConnectionError naming the URL and the fix."""
        with pytest.raises(ProviderConnectionError, match=r"http://127\.0\.0\.1:11434/api/tags.*ollama serve"):
            make_driver(httpx.MockTransport(_refused)).list_models()

    def test_retried(self, make_driver: Callable[..., OllamaDriver], monkeypatch: Any) -> None:
        """A 503 from /api/tags is retried like any request."""
        monkeypatch.setattr("costkit_ollama._driver.time.sleep", lambda seconds: None)
        responses = [httpx.Response(503, json={"error": "busy"}), httpx.Response(200, json=TAGS)]
        seen: list[httpx.Request] = []

        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return responses[len(seen) - 1]

        models = make_driver(httpx.MockTransport(handle), max_retries=1).list_models()
        assert len(models) == 2
        assert len(seen) == 2


class TestHealth:
    """health() and ahealth() ask /api/version."""

    def test_healthy(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A 200 response is healthy."""
        seen: list[httpx.Request] = []
        driver = make_driver(_routes({"/api/version": httpx.Response(200, json={"version": "0.6.2"})}, seen))
        assert driver.health() is True
        assert seen[0].url.path == "/api/version"

    def test_error_status(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """An error status is unhealthy, without retries."""
        seen: list[httpx.Request] = []
        driver = make_driver(_routes({"/api/version": httpx.Response(500, text="boom")}, seen), max_retries=3)
        assert driver.health() is False
        assert len(seen) == 1

    def test_timeout(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """A timeout is unhealthy."""

        def handle(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        assert make_driver(httpx.MockTransport(handle)).health() is False

    def test_refused(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """No server raises ProviderConnectionError naming the URL and how to start Ollama."""
        with pytest.raises(ProviderConnectionError) as raised:
            make_driver(httpx.MockTransport(_refused)).health()
        assert "http://127.0.0.1:11434/api/version" in str(raised.value)
        assert "`ollama serve`" in str(raised.value)

    def test_async_healthy(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """ahealth() is True for a 200 response."""
        driver = make_driver(_routes({"/api/version": httpx.Response(200, json={"version": "0.6.2"})}))
        assert asyncio.run(driver.ahealth()) is True

    def test_async_error_status(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """ahealth() is False for an error status."""
        driver = make_driver(_routes({"/api/version": httpx.Response(503, text="busy")}))
        assert asyncio.run(driver.ahealth()) is False

    def test_async_refused(self, make_driver: Callable[..., OllamaDriver]) -> None:
        """ahealth() raises ProviderConnectionError when no server responds."""
        with pytest.raises(ProviderConnectionError, match="ollama serve"):
            asyncio.run(make_driver(httpx.MockTransport(_refused)).ahealth())
