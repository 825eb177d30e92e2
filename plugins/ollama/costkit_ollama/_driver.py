"""The Ollama driver: ``/api/chat``, ``/api/generate`` and ``/api/embed`` over httpx."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs
import httpx

from costkit import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse, StreamState, decode_error_body
from costkit_ollama._extract import durations, extract
from costkit_ollama._host import HOST_ENV, parse_host

if TYPE_CHECKING:
    from costkit import Request, Usage

__all__ = ["API_KEY_ENV", "OPERATIONS", "OllamaDriver", "OllamaModel"]

logger = logging.getLogger(__name__)

API_KEY_ENV: Final = "OLLAMA_API_KEY"
"""Optional key, sent as a Bearer token: a local server needs none, ollama.com and some proxies do."""

OPERATIONS: Final = {"chat": "/api/chat", "generate": "/api/generate", "embed": "/api/embed"}
"""The request operations the driver supports and the path each one calls."""

_MODEL_NOT_FOUND = re.compile(r"""model\s+['"]([^'"]+)['"]\s+not found""")


@attrs.frozen
class OllamaModel:
    """One model installed on an Ollama server, as ``/api/tags`` lists it."""

    name: str
    "The name to put in requests, such as ``llama3.2:latest``."
    size: int | None = None
    "Size of the model files in bytes."
    digest: str | None = None
    "The SHA-256 digest of the model manifest."
    modified_at: str | None = None
    "When the model was pulled or created, as the server reports it (ISO 8601)."
    details: Mapping[str, Any] = attrs.field(factory=dict)
    "Family, parameter size, quantisation level and format, as the server reports them."


class OllamaDriver(HTTPDriver):
    """Call a local or remote Ollama server through its native API.

    Operations: ``chat`` (``/api/chat``, the default), ``generate`` (``/api/generate``) and
    ``embed`` (``/api/embed``, not streamed). Streams use NDJSON. ``max_output_tokens``
    becomes ``options.num_predict``; ``request.options`` are merged into the JSON body as
    given, so ``{"options": {"temperature": 0}, "keep_alive": "5m", "think": True}`` reach
    Ollama unchanged.

    Args:
        api_key: Optional; sent as ``Authorization: Bearer``. Defaults to ``OLLAMA_API_KEY``.
        base_url: The server address, in any form ``OLLAMA_HOST`` accepts (``host:port``
            without a scheme included). Defaults to ``OLLAMA_HOST``, then
            ``http://127.0.0.1:11434``.
        **options: ``timeout``, ``max_retries``, ``transport`` and ``headers``, as for
            :class:`~costkit.drivers.HTTPDriver`.

    .. versionadded:: 0.1
    """

    provider: ClassVar[str] = "ollama"
    default_base_url: ClassVar[str] = parse_host(None)
    stream_framing: ClassVar[str] = "ndjson"
    setup_hint: ClassVar[str] = (
        "Start the server with `ollama serve`, or set OLLAMA_HOST (or the base_url option) "
        "to the address of a running Ollama server"
    )

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV) or None
        if base_url is None:
            base_url = os.environ.get(HOST_ENV)
        super().__init__(api_key=api_key, base_url=parse_host(base_url), **options)

    # --- Requests ----------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the Bearer header when a key is set; a local server needs none."""
        if not self._api_key:
            return {}
        return {"Authorization": f"Bearer {self._api_key}"}

    def build_call(self, request: Request, *, stream: bool) -> HTTPCall:
        """Build the JSON body for ``request.operation`` (``chat``, ``generate`` or ``embed``).

        Raises:
            ConfigurationError: The operation is unknown, ``embed`` was streamed, or a
                ``generate`` request contains assistant or tool messages.
        """
        path = OPERATIONS.get(request.operation)
        if path is None:
            message = (
                f"the ollama driver does not support the operation {request.operation!r}; "
                f"use one of {', '.join(OPERATIONS)}"
            )
            raise ConfigurationError(message)
        if request.operation == "embed" and stream:
            message = "Ollama's /api/embed does not stream; send the embed request without streaming"
            raise ConfigurationError(message)

        body: dict[str, Any] = dict(request.options)
        body["model"] = request.model
        if request.operation == "chat":
            body["messages"] = [{"role": message.role, "content": message.content} for message in request.messages]
        elif request.operation == "generate":
            body.update(_generate_fields(request))
        else:
            contents = [message.content for message in request.messages]
            body["input"] = contents[0] if len(contents) == 1 else contents

        if request.operation != "embed":
            body["stream"] = stream
            if request.max_output_tokens is not None:
                # max_output_tokens also bounds the budget reservation, so it wins over a
                # num_predict given in request.options.
                model_options = body.get("options") or {}
                if not isinstance(model_options, Mapping):
                    message = (
                        f"request.options['options'] must be a dict of Ollama model options, got {model_options!r}"
                    )
                    raise ConfigurationError(message)
                body["options"] = {**model_options, "num_predict": request.max_output_tokens}
        return HTTPCall(path=path, json=body)

    # --- Responses ---------------------------------------------------------------------------

    def parse_response(self, request: Request, payload: Any) -> ParsedResponse:
        """Read the text, usage, model, stop reason and timings of a whole (non-streamed) response."""
        if not isinstance(payload, Mapping):
            message = f"ollama returned a {request.operation} response that is not a JSON object: {payload!r:.200}"
            raise ServerError(message, provider=self.provider, body=payload)
        if "error" in payload:
            raise self._error_in_body(request, payload)

        metadata: dict[str, Any] = durations(payload)
        text = _text_of(payload)
        extras = _extras_of(payload)
        if extras.get("thinking"):
            metadata["thinking"] = extras["thinking"]
        if extras.get("tool_calls"):
            metadata["tool_calls"] = extras["tool_calls"]
        return ParsedResponse(
            text=text,
            usage=extract(payload, stream=False),
            model=payload.get("model"),
            finish_reason=payload.get("done_reason"),
            metadata=metadata,
        )

    def parse_stream_event(self, request: Request, event: Any, state: StreamState) -> str:
        """Read one NDJSON object: return its text and keep the model, stop reason and timings.

        Raises:
            ServerError: The object is an ``{"error": ...}`` object, which Ollama sends when
                generation fails after the stream started.
        """
        if not isinstance(event, Mapping):
            return ""
        if "error" in event:
            raise self._error_in_body(request, event)

        if event.get("model"):
            state.model = event["model"]
        extras = _extras_of(event)
        if extras.get("thinking"):
            state.metadata["thinking"] = state.metadata.get("thinking", "") + extras["thinking"]
        if extras.get("tool_calls"):
            state.metadata.setdefault("tool_calls", []).extend(extras["tool_calls"])
        if event.get("done") is True:
            state.finish_reason = event.get("done_reason")
            state.metadata.update(durations(event))
        return _text_of(event)

    def stream_usage(self, request: Request, state: StreamState) -> Usage | None:
        """Return the counts of the final ``done`` object, or ``None`` when the stream ended before it."""
        return extract(state.events, stream=True)

    # --- Errors ------------------------------------------------------------------------------

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        """Translate an error response (``{"error": "..."}``) into the matching ProviderError.

        404 for a model is :class:`~costkit.ModelNotFoundError` with the ``ollama pull``
        command; 401/403 :class:`~costkit.AuthenticationError`; 429
        :class:`~costkit.RateLimitError`; other 4xx :class:`~costkit.InvalidRequestError`
        (:class:`~costkit.ContextLengthExceededError` for an input longer than the context);
        5xx :class:`~costkit.ServerError`.
        """
        detail = _error_text(body)
        context = {"provider": self.provider, "status_code": status, "body": body}
        if status == 404 and "not found" in detail and "model" in detail:
            found = _MODEL_NOT_FOUND.search(detail)
            if found:
                model = found.group(1)
                message = (
                    f"ollama at {self.base_url} has no model {model!r} ({detail}); pull it with `ollama pull {model}`"
                )
            else:
                message = (
                    f"ollama at {self.base_url} does not have the requested model ({detail}); "
                    "pull it with `ollama pull MODEL`"
                )
            message = f"{message}, or pick one that `ollama list` shows"
            return ModelNotFoundError(message, **context)
        if status in (401, 403):
            message = (
                f"ollama at {self.base_url} rejected the credentials (HTTP {status}: {detail}); "
                f"set {API_KEY_ENV} or the api_key option to a valid key"
            )
            return AuthenticationError(message, **context)
        if status == 429:
            return RateLimitError(f"ollama at {self.base_url} is rate limiting requests: {detail}", **context)
        if status >= 500:
            message = f"ollama at {self.base_url} failed with HTTP {status}: {detail}; see the server log for details"
            return ServerError(message, **context)
        if 400 <= status < 500:
            message = f"ollama at {self.base_url} rejected the request (HTTP {status}): {detail}"
            if "context length" in detail:
                return ContextLengthExceededError(message, **context)
            if status == 404:
                message = f"{message}; the server may be older than this endpoint, so upgrade Ollama"
            return InvalidRequestError(message, **context)
        return ProviderError(f"ollama at {self.base_url} returned HTTP {status}: {detail}", **context)

    def _error_in_body(self, request: Request, body: Mapping[str, Any]) -> ServerError:
        message = f"ollama failed during the {request.operation} request for {request.model!r}: {_error_text(body)}"
        return ServerError(message, provider=self.provider, body=dict(body))

    # --- Server information ------------------------------------------------------------------

    def list_models(self) -> list[OllamaModel]:
        """List the models installed on the server (``GET /api/tags``).

        Raises:
            ProviderConnectionError: No server responded at :attr:`base_url`.
            ProviderError: The server returned an error status.
        """
        return _models_from(_json_body(self._get("/api/tags")))

    async def alist_models(self) -> list[OllamaModel]:
        """List the installed models without blocking the event loop; see :meth:`list_models`."""
        response = await self._aget("/api/tags")
        return _models_from(_json_body(response))

    def health(self) -> bool:
        """Check whether the server responds to ``GET /api/version`` with a 2xx status.

        Returns:
            True for a 2xx response; False for an error status, a timeout or a broken
            connection.

        Raises:
            ProviderConnectionError: No server responded at :attr:`base_url`. The message
                names the URL and how to start Ollama.
        """
        try:
            self._get("/api/version", retry=False)
        except ProviderConnectionError:
            raise
        except ProviderError as exc:
            logger.warning("ollama at %s failed the health check: %s", self.base_url, exc)
            return False
        return True

    async def ahealth(self) -> bool:
        """Check whether the server is healthy without blocking the event loop; see :meth:`health`."""
        try:
            await self._aget("/api/version", retry=False)
        except ProviderConnectionError:
            raise
        except ProviderError as exc:
            logger.warning("ollama at %s failed the health check: %s", self.base_url, exc)
            return False
        return True

    def _get(self, path: str, *, retry: bool = True) -> httpx.Response:
        """Send a GET with the retry policy of :meth:`send` (none with ``retry=False``)."""
        call = HTTPCall(path=path, method="GET")
        attempt = 0
        while True:
            cause: Exception | None = None
            try:
                response = self.client.send(self._http_request(self.client, call))
            except httpx.TransportError as exc:
                error = self._translate_transport_error(exc, call)
                cause = exc
            else:
                if response.is_success:
                    return response
                error = self._error_from_response(response, decode_error_body(response))
            delay = self._retry_delay(attempt, error) if retry else None
            if delay is None:
                raise error from cause
            self._log_retry(call, error, delay, attempt)
            time.sleep(delay)
            attempt += 1

    async def _aget(self, path: str, *, retry: bool = True) -> httpx.Response:
        """Send a GET on the event loop; the async twin of :meth:`_get`."""
        call = HTTPCall(path=path, method="GET")
        attempt = 0
        while True:
            cause: Exception | None = None
            try:
                response = await self.async_client.send(self._http_request(self.async_client, call))
            except httpx.TransportError as exc:
                error = self._translate_transport_error(exc, call)
                cause = exc
            else:
                if response.is_success:
                    return response
                error = self._error_from_response(response, decode_error_body(response))
            delay = self._retry_delay(attempt, error) if retry else None
            if delay is None:
                raise error from cause
            self._log_retry(call, error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1


def _generate_fields(request: Request) -> dict[str, str]:
    """Split the messages of a ``generate`` request into Ollama's ``system`` and ``prompt``."""
    roles = sorted({message.role for message in request.messages} - {"system", "user"})
    if roles:
        message = (
            f"a generate request takes system and user messages only, got {', '.join(roles)}; "
            "send conversations with operation='chat'"
        )
        raise ConfigurationError(message)
    fields = {"prompt": "\n\n".join(message.content for message in request.messages if message.role == "user")}
    system = "\n\n".join(message.content for message in request.messages if message.role == "system")
    if system:
        fields["system"] = system
    return fields


def _text_of(body: Mapping[str, Any]) -> str:
    """Return the generated text of a chat (``message.content``) or generate (``response``) object."""
    message = body.get("message")
    if isinstance(message, Mapping):
        content = message.get("content")
        return content if isinstance(content, str) else ""
    response = body.get("response")
    return response if isinstance(response, str) else ""


def _extras_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return the thinking text and tool calls of an object, from ``message`` or the top level."""
    source = body.get("message")
    if not isinstance(source, Mapping):
        source = body
    extras: dict[str, Any] = {}
    if isinstance(source.get("thinking"), str):
        extras["thinking"] = source["thinking"]
    if isinstance(source.get("tool_calls"), list):
        extras["tool_calls"] = list(source["tool_calls"])
    return extras


def _error_text(body: Any) -> str:
    """Return the message of an ``{"error": ...}`` body, or the body itself as text."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            error = error.get("message", error)
        if error is not None:
            return str(error)
    text = body if isinstance(body, str) else repr(body)
    return text.strip()[:500] or "empty body"


def _json_body(response: httpx.Response) -> Any:
    """Decode a body as JSON; a body that is not JSON comes back as its text."""
    try:
        return response.json()
    except ValueError:
        return response.text


def _models_from(body: Any) -> list[OllamaModel]:
    """Build the model list out of an ``/api/tags`` body."""
    entries = body.get("models") if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        message = f"ollama returned /api/tags without a models list: {body!r:.200}"
        raise ServerError(message, provider=OllamaDriver.provider, body=body)
    models = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name") or entry.get("model")
        if not isinstance(name, str):
            continue
        details = entry.get("details")
        models.append(
            OllamaModel(
                name=name,
                size=entry.get("size") if isinstance(entry.get("size"), int) else None,
                digest=entry.get("digest"),
                modified_at=entry.get("modified_at"),
                details=dict(details) if isinstance(details, Mapping) else {},
            )
        )
    return models
