"""Tests of the mapping from Gemini error bodies to costkit errors, on inline bodies."""

from __future__ import annotations

from typing import Any

import pytest

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
from costkit_gemini._errors import error_from_body, parse_retry_delay


def error_body(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    """Build a google.rpc.Status error body."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def quota_failure(**violation: str) -> dict[str, Any]:
    """Build a QuotaFailure detail with one violation."""
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]}


def retry_info(delay: str) -> dict[str, Any]:
    """Build a RetryInfo detail."""
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


class TestErrorFromBody:
    """error_from_body() picks the class, keeps the status and body, and reads the retry delay."""

    def test_invalid_key_reason(self) -> None:
        """A 400 whose ErrorInfo reason is API_KEY_INVALID is an authentication error."""
        info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
        error = error_from_body(400, error_body(400, "INVALID_ARGUMENT", "Bad key.", info))
        assert type(error) is AuthenticationError
        assert error.status_code == 400

    def test_invalid_key_message(self) -> None:
        """A 400 saying the API key is not valid is an authentication error without details."""
        error = error_from_body(
            400, error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        )
        assert type(error) is AuthenticationError

    def test_plain_bad_request(self) -> None:
        """Any other 400 is an invalid request, with the provider's message."""
        error = error_from_body(400, error_body(400, "INVALID_ARGUMENT", "Invalid JSON payload received"))
        assert type(error) is InvalidRequestError
        assert "Invalid JSON payload received" in str(error)

    def test_context_length(self) -> None:
        """A 400 about the input token count is a context-length error."""
        text = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
        error = error_from_body(400, error_body(400, "INVALID_ARGUMENT", text))
        assert type(error) is ContextLengthExceededError

    @pytest.mark.parametrize("status", [401, 403])
    def test_permission_denied(self, status: int) -> None:
        """401 and 403 are authentication errors."""
        error = error_from_body(status, error_body(status, "PERMISSION_DENIED", "Permission denied."))
        assert type(error) is AuthenticationError

    def test_not_found(self) -> None:
        """404 is a model-not-found error."""
        error = error_from_body(404, error_body(404, "NOT_FOUND", "models/x is not found."))
        assert type(error) is ModelNotFoundError

    def test_per_minute_quota_is_rate_limit(self) -> None:
        """429 for a per-minute quota is a retryable rate limit with the RetryInfo delay."""
        body = error_body(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota.",
            quota_failure(quotaId="GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
            retry_info("34.4s"),
        )
        error = error_from_body(429, body)
        assert type(error) is RateLimitError
        assert error.retry_after == 34.4
        assert error.retryable is True

    def test_daily_quota_is_quota_exceeded(self) -> None:
        """429 for a daily quota is a quota error that is not retried."""
        body = error_body(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota.",
            quota_failure(quotaId="GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
            retry_info("20s"),
        )
        error = error_from_body(429, body)
        assert type(error) is QuotaExceededError
        assert error.retryable is False
        assert error.retry_after == 20.0

    def test_zero_quota_is_quota_exceeded(self) -> None:
        """429 for a quota of 0 (model not on the project's tier) is a quota error."""
        violation = quota_failure(quotaMetric="generate_content_free_tier_input_token_count", quotaValue="0")
        error = error_from_body(429, error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", violation))
        assert type(error) is QuotaExceededError

    def test_bare_429_is_rate_limit(self) -> None:
        """429 without details is a rate limit without a delay of its own."""
        error = error_from_body(429, error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."))
        assert type(error) is RateLimitError
        assert error.retry_after is None

    @pytest.mark.parametrize("status", [500, 503, 504])
    def test_server_errors(self, status: int) -> None:
        """5xx responses are retryable server errors."""
        error = error_from_body(status, error_body(status, "UNAVAILABLE", "The model is overloaded."))
        assert type(error) is ServerError
        assert error.retryable is True

    def test_other_client_error(self) -> None:
        """Other 4xx responses are invalid requests."""
        error = error_from_body(409, error_body(409, "ABORTED", "Conflict."))
        assert type(error) is InvalidRequestError

    def test_array_wrapped_body(self) -> None:
        """The error object wrapped in a one-element array (JSON-array stream) is read."""
        error = error_from_body(503, [error_body(503, "UNAVAILABLE", "The model is overloaded.")])
        assert type(error) is ServerError
        assert "The model is overloaded." in str(error)

    def test_text_body(self) -> None:
        """A body that is not JSON keeps its text in the message and as the body."""
        error = error_from_body(502, "Bad Gateway")
        assert type(error) is ServerError
        assert "Bad Gateway" in str(error)
        assert error.body == "Bad Gateway"

    def test_long_text_truncated(self) -> None:
        """A very long text body is shortened in the message."""
        error = error_from_body(502, "x" * 5000)
        assert len(str(error)) < 1000

    def test_unexpected_status(self) -> None:
        """A status outside 4xx and 5xx is a plain ProviderError."""
        error = error_from_body(302, "")
        assert type(error) is ProviderError
        assert error.provider == "gemini"

    def test_message_names_status(self) -> None:
        """The message names the HTTP status and the API status."""
        error = error_from_body(503, error_body(503, "UNAVAILABLE", "Overloaded."))
        assert "HTTP 503 UNAVAILABLE" in str(error)


class TestParseRetryDelay:
    """parse_retry_delay() reads protobuf Duration strings."""

    @pytest.mark.parametrize(("value", "seconds"), [("12s", 12.0), ("34.4s", 34.4), ("0s", 0.0), ("0.5s", 0.5)])
    def test_durations(self, value: str, seconds: float) -> None:
        """Durations in seconds are converted to float seconds."""
        assert parse_retry_delay(value) == seconds

    @pytest.mark.parametrize("value", [None, 12, "12", "12m", ""])
    def test_invalid_durations(self, value: Any) -> None:
        """Anything that is not a seconds Duration gives None."""
        assert parse_retry_delay(value) is None
