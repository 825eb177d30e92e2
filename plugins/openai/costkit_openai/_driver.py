"""The OpenAI driver: Chat Completions, the Responses API and embeddings over httpx.

It also drives any OpenAI-compatible server (llama.cpp, vLLM, Ollama's ``/v1``) through a
``base_url``; such servers usually need no API key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse, StreamState
from costkit.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from costkit_openai._extract import extract

if TYPE_CHECKING:
    from costkit._models import Request
    from costkit._usage import Usage

__all__ = ["DEFAULT_BASE_URL", "OpenAIDriver"]

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
API_KEY_ENV: Final = "OPENAI_API_KEY"
BASE_URL_ENV: Final = "OPENAI_BASE_URL"

OPERATIONS: Final = {"chat": "/chat/completions", "responses": "/responses", "embed": "/embeddings"}
"""The path each ``Request.operation`` is sent to, relative to the base URL."""

_CONTEXT_LENGTH_HINTS: Final = ("context_length_exceeded", "context length", "context window", "prompt too long")
"""Codes and message fragments of an error about a prompt that does not fit the model."""

_REDACTED: Final = "[redacted]"


class OpenAIDriver(HTTPDriver):
    """Send costkit requests to OpenAI or an OpenAI-compatible server.

    ``Request.operation`` selects the endpoint: ``chat`` (POST /chat/completions),
    ``responses`` (POST /responses) or ``embed`` (POST /embeddings, with the user messages
    as the inputs). Streamed chat requests always ask for usage with
    ``stream_options.include_usage``.

    Args:
        api_key: The API key. Without one, ``OPENAI_API_KEY`` is read, unless ``base_url``
            names another server: the key of the OpenAI account is never sent there unasked.
        base_url: The API root; defaults to ``OPENAI_BASE_URL``, then to
            ``https://api.openai.com/v1``.
        **options: ``timeout``, ``max_retries``, ``transport`` and ``headers``, as
            :class:`~costkit.drivers.HTTPDriver` takes them.

    Raises:
        ConfigurationError: No API key is set for api.openai.com.

    .. versionadded:: 0.1
    """

    provider: ClassVar[str] = "openai"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    stream_framing: ClassVar[str] = "sse"
    setup_hint: ClassVar[str] = (
        "Check the base_url option or OPENAI_BASE_URL; for a local server, start it and point base_url at its /v1 root"
    )

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, **options: Any) -> None:
        explicit_base_url = base_url is not None
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        is_openai = base_url.rstrip("/") == DEFAULT_BASE_URL
        # The environment key pairs with api.openai.com or with OPENAI_BASE_URL; a base_url
        # passed in code gets only a key passed in code.
        if api_key is None and (is_openai or not explicit_base_url):
            api_key = os.environ.get(API_KEY_ENV) or None

        if api_key is None and is_openai:
            message = (
                f"no API key for {DEFAULT_BASE_URL}; set {API_KEY_ENV}, or pass api_key in "
                'Client(provider_options={"openai": {"api_key": ...}})'
            )
            raise ConfigurationError(message)

        super().__init__(api_key=api_key, base_url=base_url, **options)
        self.compatible_server = not is_openai
        "True for an OpenAI-compatible server other than api.openai.com."

    # --- Requests ---------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the bearer ``Authorization`` header, or nothing when no key is set."""
        if not self._api_key:
            return {}
        return {"Authorization": f"Bearer {self._api_key}"}

    def build_call(self, request: Request, *, stream: bool) -> HTTPCall:
        """Build the JSON body for the request's operation.

        ``request.options`` go into the body as given. The model, the messages and the
        streaming fields come from the request, and they replace options of the same name.
        """
        path = OPERATIONS.get(request.operation)
        if path is None:
            message = (
                f"the openai driver does not support operation {request.operation!r}; "
                f"use one of {', '.join(repr(name) for name in OPERATIONS)}"
            )
            raise ConfigurationError(message)
        if request.service_tier == "batch":
            message = (
                "service_tier 'batch' prices Batch API results; the openai driver sends live requests, "
                "so use 'flex', 'priority', 'default' or None"
            )
            raise ConfigurationError(message)

        body: dict[str, Any] = dict(request.options)
        body["model"] = request.model
        if request.operation == "embed":
            if stream:
                message = "embeddings cannot be streamed; call send() for operation 'embed'"
                raise ConfigurationError(message)
            body["input"] = [message.content for message in request.messages if message.role == "user"]
            return HTTPCall(path=path, json=body)

        messages = [{"role": message.role, "content": message.content} for message in request.messages]
        if request.operation == "chat":
            body["messages"] = messages
            if request.max_output_tokens is not None:
                body["max_completion_tokens"] = request.max_output_tokens
                if self.compatible_server:
                    # Some compatible servers (llama-cpp-python 0.3) honour only the older
                    # max_tokens field; without it the output limit and the budget's bound
                    # would not hold there.
                    body.setdefault("max_tokens", request.max_output_tokens)
        else:
            body["input"] = messages
            if request.max_output_tokens is not None:
                body["max_output_tokens"] = request.max_output_tokens
        if request.service_tier is not None:
            body["service_tier"] = request.service_tier

        if stream:
            body["stream"] = True
            if request.operation == "chat":
                # Without include_usage a chat stream carries no usage at all.
                stream_options = body.get("stream_options")
                body["stream_options"] = {**(stream_options or {}), "include_usage": True}
        else:
            body.pop("stream", None)
        return HTTPCall(path=path, json=body)

    # --- Whole responses --------------------------------------------------------------------

    def parse_response(self, request: Request, payload: Any) -> ParsedResponse:
        """Read the text, usage, model and finish reason of a whole response body."""
        if not isinstance(payload, Mapping):
            message = f"openai returned a body that is not a JSON object: {payload!r:.200}"
            raise ServerError(message, provider=self.provider, body=payload)
        usage = extract(payload, stream=False)
        model = payload.get("model")
        if request.operation == "responses":
            return self._parse_responses_body(payload, usage, model)
        if request.operation == "embed":
            data = payload.get("data") or []
            metadata = {"embeddings": len(data)}
            return ParsedResponse(text="", usage=usage, model=model, metadata=metadata)
        return self._parse_chat_body(payload, usage, model)

    def _parse_chat_body(self, payload: Mapping[str, Any], usage: Usage | None, model: Any) -> ParsedResponse:
        choices = payload.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], Mapping) else {}
        message = choice.get("message") or {}
        metadata: dict[str, Any] = {}
        if message.get("tool_calls"):
            metadata["tool_calls"] = message["tool_calls"]
        for key in ("id", "service_tier", "system_fingerprint"):
            if payload.get(key) is not None:
                metadata[key] = payload[key]
        return ParsedResponse(
            text=message.get("content") or "",
            usage=usage,
            model=model,
            finish_reason=choice.get("finish_reason"),
            metadata=metadata,
        )

    def _parse_responses_body(self, payload: Mapping[str, Any], usage: Usage | None, model: Any) -> ParsedResponse:
        texts = []
        tool_calls = []
        for item in payload.get("output") or []:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "function_call":
                tool_calls.append(item)
            if item.get("type") != "message":
                continue
            for part in item.get("content") or []:
                if isinstance(part, Mapping) and part.get("type") == "output_text":
                    texts.append(part.get("text") or "")
        metadata: dict[str, Any] = {}
        if tool_calls:
            metadata["tool_calls"] = tool_calls
        for key in ("id", "service_tier"):
            if payload.get(key) is not None:
                metadata[key] = payload[key]
        return ParsedResponse(
            text="".join(texts),
            usage=usage,
            model=model,
            finish_reason=_responses_finish_reason(payload),
            metadata=metadata,
        )

    # --- Streams ----------------------------------------------------------------------------

    def parse_stream_event(self, request: Request, event: Any, state: StreamState) -> str:
        """Read one stream event; return its text delta and note the model and finish reason.

        Raises:
            ServerError: The event reports an error, or the response failed.
        """
        if not isinstance(event, Mapping):
            return ""
        event_type = event.get("type")
        if isinstance(event_type, str) and event_type.startswith("response."):
            return self._responses_event(event_type, event, state)
        if event_type == "error":
            raise self._stream_error(event.get("error") or event)
        if event.get("error") is not None:
            raise self._stream_error(event["error"])
        return self._chat_chunk(event, state)

    def _chat_chunk(self, event: Mapping[str, Any], state: StreamState) -> str:
        if event.get("model"):
            state.model = event["model"]
        choices = event.get("choices") or []
        if not choices or not isinstance(choices[0], Mapping):
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            _merge_tool_call_delta(state.metadata.setdefault("tool_calls", []), call)
        return delta.get("content") or ""

    def _responses_event(self, event_type: str, event: Mapping[str, Any], state: StreamState) -> str:
        response = event.get("response")
        if isinstance(response, Mapping) and response.get("model"):
            state.model = response["model"]
        if event_type == "response.output_text.delta":
            return event.get("delta") or ""
        if event_type == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                state.metadata.setdefault("tool_calls", []).append(item)
        elif event_type in ("response.completed", "response.incomplete") and isinstance(response, Mapping):
            state.finish_reason = _responses_finish_reason(response)
        elif event_type == "response.failed":
            error = response.get("error") if isinstance(response, Mapping) else None
            raise self._stream_error(error or event)
        return ""

    def stream_usage(self, request: Request, state: StreamState) -> Usage | None:
        """Return the usage of the final chunk or ``response.completed`` event, or ``None``."""
        return extract(state.events, stream=True)

    def _stream_error(self, error: Any) -> ServerError:
        provider_message = _error_message(error) if isinstance(error, Mapping) else str(error)
        message = f"the openai stream reported an error: {self._redact(provider_message)}"
        return ServerError(message, provider=self.provider, body=self._redact_body(error))

    # --- Errors -----------------------------------------------------------------------------

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        """Translate an error response into the matching :class:`~costkit.ProviderError`.

        The class follows the HTTP status and OpenAI's error ``code``/``type``: a 429 with
        ``insufficient_quota`` is a :class:`~costkit.QuotaExceededError` (not retried), a
        ``model_not_found`` code is a :class:`~costkit.ModelNotFoundError` whether it comes
        with 404 or, on the Responses API, with 400.
        """
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            error = {"message": body} if isinstance(body, str) and body else {}
        code = error.get("code")
        code = code if isinstance(code, str) else None
        error_type = error.get("type") if isinstance(error.get("type"), str) else None
        provider_message = self._redact(_error_message(error) or f"HTTP {status} with an empty body")

        error_class, next_step = self._classify(status, code, error_type, provider_message)
        detail = f" ({code})" if code else ""
        request_id = headers.get("x-request-id")
        if request_id:
            next_step = f"{next_step} (request id {request_id})"
        message = f"{self.provider} returned HTTP {status}{detail}: {provider_message.rstrip('.')}. {next_step}"
        return error_class(message, provider=self.provider, status_code=status, body=self._redact_body(body))

    def _classify(
        self, status: int, code: str | None, error_type: str | None, provider_message: str
    ) -> tuple[type[ProviderError], str]:
        lowered = provider_message.lower()
        if status in (401, 403):
            if self._api_key is None:
                return AuthenticationError, f"Set {API_KEY_ENV} or pass api_key for {self.base_url}"
            return AuthenticationError, f"Check {API_KEY_ENV} (or the api_key option) and its project permissions"
        if status == 429:
            if "insufficient_quota" in (code, error_type):
                return QuotaExceededError, "Add credit or raise the quota in the account's billing settings"
            return RateLimitError, "Slow down, or raise the max_retries option to wait and retry"
        if code == "model_not_found" or (status == 404 and "model" in lowered):
            return ModelNotFoundError, "Check the model name, and that the key's project has access to it"
        if status == 404:
            return InvalidRequestError, "Check the base_url option: the server has no such endpoint"
        if status == 408:
            return RequestTimeoutError, "Try again, or send a smaller request"
        if status >= 500:
            return ServerError, "This is on the server's side; try again later"
        if any(hint in (code or "") or hint in lowered for hint in _CONTEXT_LENGTH_HINTS):
            return ContextLengthExceededError, "Shorten the messages or lower max_output_tokens"
        return InvalidRequestError, "Fix the request parameters the message names"

    def _redact(self, text: str) -> str:
        """Remove the API key from text the server sent back (some servers echo it)."""
        key = self._api_key
        return text.replace(key, _REDACTED) if key else text

    def _redact_body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self._redact(body)
        if isinstance(body, Mapping):
            return {key: self._redact_body(value) for key, value in body.items()}
        if isinstance(body, list):
            return [self._redact_body(value) for value in body]
        return body


def _error_message(error: Mapping[str, Any]) -> str:
    message = error.get("message")
    return message if isinstance(message, str) else ""


def _responses_finish_reason(response: Mapping[str, Any]) -> str | None:
    """Return why a Responses API response ended: the incomplete reason, else its status."""
    details = response.get("incomplete_details")
    if isinstance(details, Mapping) and details.get("reason"):
        return str(details["reason"])
    status = response.get("status")
    return status if isinstance(status, str) else None


def _merge_tool_call_delta(calls: list[dict[str, Any]], delta: Any) -> None:
    """Merge one streamed tool-call fragment into the call with the same ``index``."""
    if not isinstance(delta, Mapping):
        return
    index = delta.get("index")
    call = next((call for call in calls if call["index"] == index), None)
    if call is None:
        call = {"index": index, "id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        calls.append(call)
    if delta.get("id"):
        call["id"] = delta["id"]
    function = delta.get("function")
    if not isinstance(function, Mapping):
        return
    if isinstance(function.get("name"), str):
        call["function"]["name"] += function["name"]
    if isinstance(function.get("arguments"), str):
        call["function"]["arguments"] += function["arguments"]
