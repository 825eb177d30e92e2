"""The httpx driver for the Gemini API: generateContent, streamGenerateContent and embeddings."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse, StreamState
from costkit.errors import AuthenticationError, ConfigurationError, ProviderError
from costkit_gemini._errors import error_from_body, error_object
from costkit_gemini._extract import extract

if TYPE_CHECKING:
    from costkit._models import Message, Request
    from costkit._usage import Usage

__all__ = ["DEFAULT_BASE_URL", "GeminiDriver", "create_driver"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com/v1beta"

STREAM_FORMATS: Final = ("sse", "json-array")
"""Values of the ``stream_format`` request option: ``?alt=sse`` events, or one JSON array."""

FINISH_REASONS: Final = {
    0: "FINISH_REASON_UNSPECIFIED",
    1: "STOP",
    2: "MAX_TOKENS",
    3: "SAFETY",
    4: "RECITATION",
    5: "OTHER",
    6: "LANGUAGE",
    7: "BLOCKLIST",
    8: "PROHIBITED_CONTENT",
    9: "SPII",
    10: "MALFORMED_FUNCTION_CALL",
    11: "IMAGE_SAFETY",
    12: "UNEXPECTED_TOOL_CALL",
}
"""The ``FinishReason`` enum, for bodies requested with ``enum-encoding=int``."""

# GenerationConfig fields that a request may give as top-level options. The driver moves them
# into generationConfig because the API rejects them at the top level of the body.
_GENERATION_FIELDS: Final = frozenset(
    {
        "candidateCount",
        "frequencyPenalty",
        "logprobs",
        "maxOutputTokens",
        "mediaResolution",
        "presencePenalty",
        "responseJsonSchema",
        "responseLogprobs",
        "responseMimeType",
        "responseModalities",
        "responseSchema",
        "seed",
        "speechConfig",
        "stopSequences",
        "temperature",
        "thinkingConfig",
        "topK",
        "topP",
    }
)
_ROLES: Final = {"user": "user", "assistant": "model", "tool": "user"}
_OPERATIONS: Final = ("chat", "generate", "embed")


def create_driver(**options: Any) -> GeminiDriver:
    """Create a :class:`GeminiDriver`, reading the key and base URL from the environment.

    ``api_key`` defaults to ``GEMINI_API_KEY``, then ``GOOGLE_API_KEY``; ``base_url`` defaults
    to ``GEMINI_BASE_URL``, then the public endpoint. Empty variables count as unset.
    """
    if not options.get("api_key"):
        options["api_key"] = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") or None
    if not options.get("base_url"):
        options["base_url"] = os.environ.get("GEMINI_BASE_URL") or None
    return GeminiDriver(**options)


class GeminiDriver(HTTPDriver):
    """Call Gemini models through the Gemini Developer API.

    ``operation`` ``"chat"`` (the default) and ``"generate"`` call ``generateContent`` and
    ``streamGenerateContent``; ``"embed"`` calls ``embedContent`` for one message and
    ``batchEmbedContents`` for several. The key travels in the ``x-goog-api-key`` header,
    never in the URL.

    Streams use server-sent events (``?alt=sse``) unless the request sets the option
    ``stream_format="json-array"``, which reads the plain streamed JSON array instead.

    .. versionadded:: 0.1
    """

    provider: ClassVar[str] = "gemini"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    stream_framing: ClassVar[str] = "sse"

    # --- Request ---------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the ``x-goog-api-key`` header."""
        if not self._api_key:
            return {}
        return {"x-goog-api-key": self._api_key}

    def stream_framing_for(self, request: Request) -> str:
        """Return ``sse`` or ``json-array`` from the request's ``stream_format`` option."""
        return _stream_format(request)

    def build_call(self, request: Request, *, stream: bool) -> HTTPCall:
        """Build the generateContent, streamGenerateContent or embedding call for ``request``.

        Raises:
            AuthenticationError: No API key is configured.
            ConfigurationError: The operation, model, options or messages cannot be sent.
        """
        if not self._api_key:
            message = (
                "no Gemini API key is configured; set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass "
                "provider_options={'gemini': {'api_key': ...}}"
            )
            raise AuthenticationError(message, provider=self.provider)
        if request.operation not in _OPERATIONS:
            message = (
                f"the gemini driver does not support operation {request.operation!r}; "
                f"use one of {', '.join(_OPERATIONS)}"
            )
            raise ConfigurationError(message)
        model_path = _model_path(request.model)

        if request.operation == "embed":
            if stream:
                message = "Gemini embeddings cannot be streamed; send the embed request with send() instead"
                raise ConfigurationError(message)
            return _embed_call(request, model_path)

        body = _generate_body(request)
        if not stream:
            return HTTPCall(path=f"/{model_path}:generateContent", json=body)
        params = {"alt": "sse"} if _stream_format(request) == "sse" else {}
        return HTTPCall(path=f"/{model_path}:streamGenerateContent", json=body, params=params)

    # --- Response --------------------------------------------------------------------------

    def parse_response(self, request: Request, payload: Any) -> ParsedResponse:
        """Read the text, usage, model and finish reason of a whole response body."""
        if request.operation == "embed":
            return _parse_embeddings(payload)
        if not isinstance(payload, Mapping):
            message = f"Gemini returned a body that is not a JSON object: {payload!r:.200}"
            raise ProviderError(message, provider=self.provider, body=payload)

        state = StreamState()
        text = _read_chunk(payload, state)
        return ParsedResponse(
            text=text,
            usage=extract(payload, stream=False),
            model=state.model,
            finish_reason=state.finish_reason,
            metadata=state.metadata,
        )

    def parse_stream_event(self, request: Request, event: Any, state: StreamState) -> str:
        """Read one stream chunk; raise the matching ProviderError for an error chunk."""
        error = error_object(event)
        if error is not None:
            code = error.get("code")
            status = code if isinstance(code, int) and not isinstance(code, bool) else 500
            raise error_from_body(status, event)
        if not isinstance(event, Mapping):
            logger.debug("Skipping a Gemini stream event that is not a JSON object: %.200r", event)
            return ""
        return _read_chunk(event, state)

    def stream_usage(self, request: Request, state: StreamState) -> Usage | None:
        """Return the usage of the last chunk that carries one, or ``None``."""
        return extract(state.events, stream=True)

    def map_error(self, status: int, body: Any, headers: Mapping[str, str]) -> ProviderError:
        """Translate an error response; see :func:`costkit_gemini._errors.error_from_body`."""
        return error_from_body(status, body)


# --- Request helpers ---------------------------------------------------------------------------


def _stream_format(request: Request) -> str:
    value = request.options.get("stream_format", "sse")
    if value not in STREAM_FORMATS:
        message = f"stream_format for gemini must be 'sse' or 'json-array', got {value!r}"
        raise ConfigurationError(message)
    return str(value)


def _model_path(model: str) -> str:
    name = model.strip()
    if not name or any(char in name for char in "?#: \t\n"):
        message = f"invalid Gemini model name {model!r}; expected a name such as 'gemini-2.5-flash'"
        raise ConfigurationError(message)
    # Names may arrive with their resource prefix ("models/gemini-2.5-pro", "tunedModels/x").
    if name.startswith(("models/", "tunedModels/")):
        return name
    return f"models/{name}"


def _text_content(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": text}]}


def _generate_body(request: Request) -> dict[str, Any]:
    system_parts = []
    contents = []
    for message in request.messages:
        if message.role == "system":
            system_parts.append({"text": message.content})
        else:
            contents.append(_text_content(_ROLES[message.role], message.content))
    if not contents:
        message = "a Gemini request needs at least one user, assistant or tool message; got only system messages"
        raise ConfigurationError(message)

    body: dict[str, Any] = {"contents": contents}
    if system_parts:
        body["systemInstruction"] = {"parts": system_parts}

    generation: dict[str, Any] = {}
    for key, value in request.options.items():
        if key == "stream_format":
            continue
        if key == "generationConfig":
            if not isinstance(value, Mapping):
                message = f"the generationConfig option must be a mapping, got {value!r}"
                raise ConfigurationError(message)
            generation.update(value)
        elif key in _GENERATION_FIELDS:
            generation[key] = value
        else:
            body[key] = value

    if request.max_output_tokens is not None:
        option_limit = generation.get("maxOutputTokens")
        if option_limit is not None and option_limit != request.max_output_tokens:
            message = (
                f"max_output_tokens ({request.max_output_tokens}) and the maxOutputTokens option ({option_limit!r}) "
                "disagree; set only max_output_tokens, which the budget reservation also uses"
            )
            raise ConfigurationError(message)
        generation["maxOutputTokens"] = request.max_output_tokens
    if generation:
        body["generationConfig"] = generation
    return body


def _embed_call(request: Request, model_path: str) -> HTTPCall:
    texts: list[Message] = [message for message in request.messages if message.role != "system"]
    if not texts:
        message = "an embed request needs at least one message whose text is embedded"
        raise ConfigurationError(message)
    options = {key: value for key, value in request.options.items() if key != "stream_format"}
    if len(texts) == 1:
        body = {"content": {"parts": [{"text": texts[0].content}]}, **options}
        return HTTPCall(path=f"/{model_path}:embedContent", json=body)
    requests = [
        {"model": model_path, "content": {"parts": [{"text": message.content}]}, **options} for message in texts
    ]
    return HTTPCall(path=f"/{model_path}:batchEmbedContents", json={"requests": requests})


# --- Response helpers --------------------------------------------------------------------------


def _finish_reason(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return FINISH_REASONS.get(value, str(value))
    return None


def _read_chunk(payload: Mapping[str, Any], state: StreamState) -> str:
    """Read the text of the first candidate and record model, finish reason and metadata."""
    model = payload.get("modelVersion")
    if isinstance(model, str) and model:
        state.model = model
    response_id = payload.get("responseId")
    if isinstance(response_id, str):
        state.metadata["response_id"] = response_id
    feedback = payload.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason") is not None:
        state.metadata["block_reason"] = feedback["blockReason"]
        state.finish_reason = state.finish_reason or "PROMPT_BLOCKED"

    candidates = payload.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], Mapping):
        return ""
    candidate = candidates[0]
    reason = _finish_reason(candidate.get("finishReason"))
    if reason is not None:
        state.finish_reason = reason

    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if not isinstance(parts, list):
        return ""
    texts = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if part.get("thought") is True:
            # Thought summaries are kept apart from the answer's text.
            if isinstance(text, str):
                state.metadata["thoughts"] = state.metadata.get("thoughts", "") + text
        elif isinstance(text, str):
            texts.append(text)
        if isinstance(part.get("functionCall"), Mapping):
            state.metadata.setdefault("function_calls", []).append(dict(part["functionCall"]))
    return "".join(texts)


def _parse_embeddings(payload: Any) -> ParsedResponse:
    vectors: list[Any] = []
    if isinstance(payload, Mapping):
        if isinstance(payload.get("embedding"), Mapping):
            vectors.append(payload["embedding"].get("values"))
        elif isinstance(payload.get("embeddings"), list):
            vectors.extend(item.get("values") for item in payload["embeddings"] if isinstance(item, Mapping))
    return ParsedResponse(text="", usage=extract(payload, stream=False), metadata={"embeddings": vectors})
