"""The httpx-based driver for xAI's Chat Completions and Responses APIs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from costkit import (
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
from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse, StreamState, parse_retry_after
from costkit_xai._extract import extract

if TYPE_CHECKING:
    from costkit import Request, Usage

__all__ = ["OPERATIONS", "XAIDriver"]

OPERATIONS: Final = {"chat": "/chat/completions", "responses": "/responses"}
"""The request operations the driver supports and the path each one calls."""

_MAX_MESSAGE_CHARS: Final = 500

_AUTH_PATTERN: Final = re.compile(r"api[ _-]?key|unauthori[sz]ed|authenticat", re.IGNORECASE)
_QUOTA_PATTERN: Final = re.compile(r"credits?\b|spending limit|quota|billing", re.IGNORECASE)
_MODEL_PATTERN: Final = re.compile(r"model\b.*\b(does not exist|not found|not available)", re.IGNORECASE)
_CONTEXT_PATTERN: Final = re.compile(r"context (length|window)|maximum prompt length|too many tokens", re.IGNORECASE)


class XAIDriver(HTTPDriver):
    """Send requests to xAI: ``chat`` to ``/chat/completions``, ``responses`` to ``/responses``.

    Streams are server-sent events. Chat streams ask for usage in their final chunk
    (``stream_options.include_usage``); Responses streams carry it in ``response.completed``.

    .. versionadded:: 0.1
    """

    provider: ClassVar[str] = "xai"
    default_base_url: ClassVar[str] = "https://api.x.ai/v1"
    stream_framing: ClassVar[str] = "sse"
    setup_hint: ClassVar[str] = "Check the base_url option or XAI_BASE_URL; the xAI API root is https://api.x.ai/v1"

    # --- Request ---------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the bearer ``Authorization`` header.

        Raises:
            AuthenticationError: No API key is configured.
        """
        if not self._api_key:
            message = (
                "no xAI API key is configured; set XAI_API_KEY or pass "
                "provider_options={'xai': {'api_key': ...}} to the client"
            )
            raise AuthenticationError(message, provider=self.provider)
        return {"Authorization": f"Bearer {self._api_key}"}

    def build_call(self, request: Request, *, stream: bool) -> HTTPCall:
        """Return the POST for the request's operation, with ``request.options`` merged into the body.

        Raises:
            ConfigurationError: The operation is not ``chat`` or ``responses``, or the options
                set ``stream`` (call ``stream()`` instead).
        """
        path = OPERATIONS.get(request.operation)
        if path is None:
            message = (
                f"the xai driver does not support operation {request.operation!r}; use one of: {', '.join(OPERATIONS)}"
            )
            raise ConfigurationError(message)
        if "stream" in request.options:
            message = (
                f"request options must not set 'stream' (got {request.options['stream']!r}); "
                "call stream() or astream() for a streamed answer"
            )
            raise ConfigurationError(message)

        if request.operation == "chat":
            body = self._chat_body(request, stream=stream)
        else:
            body = self._responses_body(request, stream=stream)
        return HTTPCall(path=path, json=body)

    def _chat_body(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": message.role, "content": message.content} for message in request.messages],
        }
        if request.max_output_tokens is not None:
            body["max_tokens"] = request.max_output_tokens
        if request.service_tier is not None:
            body["service_tier"] = request.service_tier
        body.update(request.options)
        if stream:
            # Without include_usage the stream carries no usage and its cost would be estimated.
            stream_options = dict(body.get("stream_options") or {})
            stream_options["include_usage"] = True
            body["stream"] = True
            body["stream_options"] = stream_options
        return body

    def _responses_body(self, request: Request, *, stream: bool) -> dict[str, Any]:
        tool_messages = [message for message in request.messages if message.role == "tool"]
        if tool_messages and "input" not in request.options:
            message = (
                "the Responses API takes tool results as function_call_output items, not as 'tool' "
                "messages; pass the full input list in options={'input': [...]}"
            )
            raise ConfigurationError(message)
        body: dict[str, Any] = {
            "model": request.model,
            "input": [{"role": message.role, "content": message.content} for message in request.messages],
        }
        if request.max_output_tokens is not None:
            body["max_output_tokens"] = request.max_output_tokens
        if request.service_tier is not None:
            body["service_tier"] = request.service_tier
        body.update(request.options)
        if stream:
            body["stream"] = True
        return body

    # --- Whole responses -------------------------------------------------------------------

    def parse_response(self, request: Request, payload: Any) -> ParsedResponse:
        """Read the text, usage, model and finish reason of a whole response body."""
        if not isinstance(payload, Mapping):
            message = f"xAI returned a body that is not a JSON object: {_shorten(payload)!r}"
            raise ServerError(message, provider=self.provider, body=payload)
        if request.operation == "responses":
            return _parse_responses_body(payload)
        return _parse_chat_body(payload)

    # --- Streams ---------------------------------------------------------------------------

    def parse_stream_event(self, request: Request, event: Any, state: StreamState) -> str:
        """Return the text delta of one stream event, recording the model and finish reason.

        Raises:
            ServerError: The event reports an error.
        """
        if not isinstance(event, Mapping):
            return ""
        if request.operation == "responses":
            return self._responses_event(event, state)
        return self._chat_event(event, state)

    def _chat_event(self, event: Mapping[str, Any], state: StreamState) -> str:
        if event.get("error"):
            raise self._stream_error(event)
        if isinstance(event.get("model"), str):
            state.model = event["model"]
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            return ""

        choice = choices[0]
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, Mapping):
            return ""
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            state.metadata["reasoning_content"] = state.metadata.get("reasoning_content", "") + reasoning
        if delta.get("tool_calls"):
            state.metadata.setdefault("tool_calls", []).extend(delta["tool_calls"])
        content = delta.get("content")
        return content if isinstance(content, str) else ""

    def _responses_event(self, event: Mapping[str, Any], state: StreamState) -> str:
        kind = event.get("type")
        if kind in ("error", "response.failed"):
            raise self._stream_error(event)
        response = event.get("response")
        if isinstance(response, Mapping):
            if isinstance(response.get("model"), str):
                state.model = response["model"]
            if kind in ("response.completed", "response.incomplete"):
                state.finish_reason = _responses_finish_reason(response)
                if response.get("id"):
                    state.metadata["id"] = response["id"]
        if kind == "response.reasoning_summary_text.delta" and isinstance(event.get("delta"), str):
            state.metadata["reasoning_summary"] = state.metadata.get("reasoning_summary", "") + event["delta"]
        if kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
            return str(event["delta"])
        return ""

    def _stream_error(self, event: Mapping[str, Any]) -> ServerError:
        text = _error_text(event.get("response", event) if event.get("type") == "response.failed" else event)
        message = f"xAI reported an error inside the stream: {text}"
        return ServerError(message, provider=self.provider, body=dict(event))

    def stream_usage(self, request: Request, state: StreamState) -> Usage | None:
        """Return the usage of the last stream event that carries one, or ``None``."""
        return extract(state.events, stream=True)

    # --- Errors ----------------------------------------------------------------------------

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        """Translate an xAI error response into the matching :class:`~costkit.ProviderError`.

        xAI rejects an invalid key with HTTP 400 and a flat ``{"code": ..., "error": "Incorrect
        API key provided..."}`` body, so a 400 naming the API key is an authentication error.
        Other error bodies follow OpenAI's ``{"error": {"message": ...}}`` shape.
        """
        text = _error_text(body)
        message = f"xAI returned HTTP {status}: {text}"
        options: dict[str, Any] = {"provider": self.provider, "status_code": status, "body": body}

        if status in (401, 403) or (status == 400 and _AUTH_PATTERN.search(text)):
            if status == 403 and _QUOTA_PATTERN.search(text):
                return QuotaExceededError(f"{message}; add credits to the xAI team", **options)
            return AuthenticationError(f"{message}; check XAI_API_KEY or the api_key option", **options)
        if status == 429:
            if _QUOTA_PATTERN.search(text):
                return QuotaExceededError(f"{message}; add credits or raise the team's spending limit", **options)
            return RateLimitError(message, retry_after=parse_retry_after(headers), **options)
        if status == 404 or (status in (400, 422) and _MODEL_PATTERN.search(text)):
            return ModelNotFoundError(f"{message}; check the model name and the team's model access", **options)
        if status in (400, 413, 422):
            if _CONTEXT_PATTERN.search(text):
                return ContextLengthExceededError(f"{message}; shorten the prompt or max_output_tokens", **options)
            return InvalidRequestError(message, **options)
        if status == 408:
            return RequestTimeoutError(message, **options)
        if status >= 500:
            return ServerError(message, **options)
        return ProviderError(message, **options)


def _parse_chat_body(payload: Mapping[str, Any]) -> ParsedResponse:
    text = ""
    finish_reason = None
    metadata: dict[str, Any] = {}
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        choice = choices[0]
        finish_reason = choice.get("finish_reason")
        message = choice.get("message")
        if isinstance(message, Mapping):
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if message.get("reasoning_content"):
                metadata["reasoning_content"] = message["reasoning_content"]
            if message.get("tool_calls"):
                metadata["tool_calls"] = list(message["tool_calls"])
    for key in ("id", "system_fingerprint"):
        if payload.get(key):
            metadata[key] = payload[key]
    return ParsedResponse(
        text=text,
        usage=extract(payload, stream=False),
        model=payload.get("model"),
        finish_reason=finish_reason,
        metadata=metadata,
    )


def _parse_responses_body(payload: Mapping[str, Any]) -> ParsedResponse:
    texts: list[str] = []
    summaries: list[str] = []
    function_calls: list[Any] = []
    output = payload.get("output")
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "message":
            texts.extend(_output_texts(item))
        elif kind == "reasoning":
            summaries.extend(part["text"] for part in item.get("summary") or () if isinstance(part.get("text"), str))
        elif kind == "function_call":
            function_calls.append(dict(item))

    metadata: dict[str, Any] = {}
    if payload.get("id"):
        metadata["id"] = payload["id"]
    if summaries:
        metadata["reasoning_summary"] = "".join(summaries)
    if function_calls:
        metadata["function_calls"] = function_calls
    return ParsedResponse(
        text="".join(texts),
        usage=extract(payload, stream=False),
        model=payload.get("model"),
        finish_reason=_responses_finish_reason(payload),
        metadata=metadata,
    )


def _output_texts(item: Mapping[str, Any]) -> list[str]:
    content = item.get("content")
    if not isinstance(content, list):
        return []
    return [
        part["text"]
        for part in content
        if isinstance(part, Mapping) and part.get("type") == "output_text" and isinstance(part.get("text"), str)
    ]


def _responses_finish_reason(response: Mapping[str, Any]) -> str | None:
    # An incomplete response names why it stopped (max_output_tokens...), and a finished one reports its status.
    details = response.get("incomplete_details")
    if isinstance(details, Mapping) and details.get("reason"):
        return str(details["reason"])
    status = response.get("status")
    return status if isinstance(status, str) else None


def _error_text(body: Any) -> str:
    """Return the human-readable message of an error body in any of xAI's shapes."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return _shorten(error["message"])
        if isinstance(error, str):
            return _shorten(error)
        if isinstance(body.get("message"), str):
            return _shorten(body["message"])
    if isinstance(body, str) and body.strip():
        return _shorten(body.strip())
    return _shorten(repr(body))


def _shorten(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= _MAX_MESSAGE_CHARS:
        return text
    return text[:_MAX_MESSAGE_CHARS] + "..."
