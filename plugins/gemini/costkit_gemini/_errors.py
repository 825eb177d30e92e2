"""Translate Gemini API error bodies into costkit's provider errors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from costkit.errors import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_from_body", "error_object", "parse_retry_delay"]

PROVIDER: Final = "gemini"

_TYPE_PREFIX: Final = "type.googleapis.com/google.rpc."
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_CONTEXT_LENGTH: Final = re.compile(r"input token count .* exceeds the maximum", re.IGNORECASE)
# Quota ids and metrics name their window, such as
# "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" or "...PerDay...".
_DAILY_QUOTA: Final = re.compile(r"per_?day", re.IGNORECASE)
_MAX_MESSAGE: Final = 500
"""Characters of the provider's message kept in ours; a raw body may be a whole HTML page."""
_INVALID_KEY_REASONS: Final = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})


def error_object(body: Any) -> Mapping[str, Any] | None:
    """Return the ``error`` object of an error body, also when a JSON-array stream wraps it."""
    if isinstance(body, Sequence) and not isinstance(body, (str, bytes)):
        body = body[0] if len(body) == 1 else None
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return body["error"]
    return None


def parse_retry_delay(value: Any) -> float | None:
    """Convert a ``google.protobuf.Duration`` in its JSON form (``"12s"``, ``"34.4s"``) to seconds."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    return float(match.group(1)) if match else None


def error_from_body(status: int, body: Any) -> ProviderError:
    """Build the :class:`~costkit.ProviderError` subclass that matches a Gemini error response.

    Args:
        status: The HTTP status, or the ``code`` of an error delivered inside a stream.
        body: The decoded error body: ``{"error": {...}}``, that object wrapped in a
            one-element list (the JSON-array stream form), or the raw text.

    Returns:
        The error, chosen by status:

        - 401, 403, and 400 with an invalid key: ``AuthenticationError``.
        - 404: ``ModelNotFoundError``.
        - 429: ``QuotaExceededError`` when a ``QuotaFailure`` names a daily or zero quota,
          else ``RateLimitError``. ``RetryInfo.retryDelay`` becomes ``retry_after``.
        - 5xx: ``ServerError``.
        - Other 4xx: ``ContextLengthExceededError`` for a too long prompt, else
          ``InvalidRequestError``.
    """
    error = error_object(body) or {}
    api_status = error.get("status") if isinstance(error.get("status"), str) else None
    text = error.get("message") if isinstance(error.get("message"), str) else None
    if text is None:
        text = body.strip() if isinstance(body, str) and body.strip() else "no error message"
    text = text.strip()
    if len(text) > _MAX_MESSAGE:
        text = f"{text[:_MAX_MESSAGE]}..."
    if not text.endswith((".", "!", "?")):
        text = f"{text}."
    details = _details(error)
    label = f"HTTP {status} {api_status}" if api_status else f"HTTP {status}"
    options: dict[str, Any] = {"provider": PROVIDER, "status_code": status, "body": body}

    if status == 400 and _has_invalid_key(details, text):
        message = (
            f"Gemini rejected the API key ({label}): {text} Set GEMINI_API_KEY to a valid key from Google AI Studio"
        )
        return AuthenticationError(message, **options)
    if status in (401, 403):
        message = (
            f"Gemini refused access ({label}): {text} Check that GEMINI_API_KEY is set and that the key's project "
            "may use the Generative Language API and this model"
        )
        return AuthenticationError(message, **options)
    if status == 404:
        message = (
            f"Gemini does not know the model or resource ({label}): {text} List the available models with GET /models"
        )
        return ModelNotFoundError(message, **options)
    if status == 429:
        return _resource_exhausted(label, text, details, options)
    if status >= 500:
        message = f"Gemini failed on its side ({label}): {text} The request may succeed if sent again later"
        return ServerError(message, **options)
    if status >= 400:
        if _CONTEXT_LENGTH.search(text):
            message = f"the prompt is too long for the model ({label}): {text} Shorten the prompt or history"
            return ContextLengthExceededError(message, **options)
        message = f"Gemini rejected the request ({label}): {text} Check the request body and options"
        return InvalidRequestError(message, **options)
    message = f"Gemini returned an unexpected response ({label}): {text}"
    return ProviderError(message, **options)


def _details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    if not isinstance(details, Sequence) or isinstance(details, (str, bytes)):
        return []
    return [detail for detail in details if isinstance(detail, Mapping)]


def _detail_type(detail: Mapping[str, Any]) -> str:
    kind = detail.get("@type")
    if not isinstance(kind, str):
        return ""
    return kind.removeprefix(_TYPE_PREFIX)


def _has_invalid_key(details: list[Mapping[str, Any]], text: str) -> bool:
    for detail in details:
        if _detail_type(detail) == "ErrorInfo" and detail.get("reason") in _INVALID_KEY_REASONS:
            return True
    return "api key not valid" in text.lower()


def _resource_exhausted(
    label: str, text: str, details: list[Mapping[str, Any]], options: dict[str, Any]
) -> ProviderError:
    retry_after = None
    violations: list[Mapping[str, Any]] = []
    for detail in details:
        kind = _detail_type(detail)
        if kind == "RetryInfo":
            retry_after = parse_retry_delay(detail.get("retryDelay"))
        elif kind == "QuotaFailure" and isinstance(detail.get("violations"), Sequence):
            violations.extend(item for item in detail["violations"] if isinstance(item, Mapping))

    # A per-minute quota refills within a minute, so the request is worth retrying. A daily
    # quota, or a quota of 0 (the model is not available on the project's tier), is not.
    if any(_is_exhausted_quota(violation) for violation in violations):
        message = (
            f"the Gemini quota is used up ({label}): {text} Wait for the daily quota to reset, or raise the "
            "project's tier or limits in Google AI Studio"
        )
        return QuotaExceededError(message, retry_after=retry_after, **options)
    message = f"Gemini rate limit reached ({label}): {text} Send fewer requests per minute, or retry later"
    return RateLimitError(message, retry_after=retry_after, **options)


def _is_exhausted_quota(violation: Mapping[str, Any]) -> bool:
    names = " ".join(str(violation.get(key, "")) for key in ("quotaId", "quotaMetric"))
    if _DAILY_QUOTA.search(names):
        return True
    return str(violation.get("quotaValue", "")).strip() == "0"
