"""The costkit exception tree.

Every exception costkit raises on purpose derives from :class:`CostkitError`::

    CostkitError
    ├── ConfigurationError        a bad setting, option or argument (a developer mistake)
    │   ├── MiddlewareError       an unknown middleware name, or a middleware calling the client
    │   └── MissingExtraError     an optional dependency is not installed (also an ImportError)
    ├── UsageError                token counts that are negative, not integers or inconsistent
    ├── PricingError              a price that is invalid, or a cost that cannot be computed
    │   └── PriceNotFoundError    no pricing source has a price for the model
    ├── BudgetExceededError       a request whose worst-case cost does not fit a budget
    ├── PluginError               a plugin that fails to load or does not match the hook specs
    ├── StorageError              the ledger database failed (peewee errors are translated here)
    └── ProviderError             the provider's HTTP API failed (httpx errors are translated here)
        ├── AuthenticationError   a missing, invalid or unauthorised API key
        ├── RateLimitError        too many requests; ``retry_after`` says when to try again
        ├── QuotaExceededError    the account has no credit or quota left
        ├── ModelNotFoundError    the provider does not know the model
        ├── InvalidRequestError   the provider rejected the request body
        │   └── ContextLengthExceededError
        ├── ServerError           a 5xx answer, or an error inside a stream
        ├── RequestTimeoutError   no answer within the timeout
        └── ProviderConnectionError  no server answered at the address

Messages name the offending value and the way to fix it. API keys never appear in them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = [
    "AuthenticationError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "CostkitError",
    "InvalidRequestError",
    "MiddlewareError",
    "MissingExtraError",
    "ModelNotFoundError",
    "PluginError",
    "PriceNotFoundError",
    "PricingError",
    "ProviderConnectionError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StorageError",
    "UsageError",
]


class CostkitError(Exception):
    """Base class of every error costkit raises on purpose."""


class ConfigurationError(CostkitError):
    """A setting, option or argument has an invalid value."""


class MiddlewareError(ConfigurationError):
    """A middleware name is unknown, or a middleware misbehaved (for example, called the client)."""


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class UsageError(CostkitError, ValueError):
    """Token counts are invalid: negative, not integers, absurdly large or inconsistent."""


class PricingError(CostkitError, ValueError):
    """A price is invalid, or a cost cannot be computed from it."""


class PriceNotFoundError(PricingError, LookupError):
    """No pricing source has a price for the model at the requested time."""

    def __init__(self, message: str, *, provider: str, model: str, sources: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.sources = sources


class BudgetExceededError(CostkitError):
    """The worst-case cost of a request does not fit one of its budgets.

    Raised before any provider call, so nothing was spent.
    """

    def __init__(
        self,
        message: str,
        *,
        scope: str,
        scope_id: str | None,
        window: str,
        limit: Decimal,
        spent: Decimal,
        reserved: Decimal,
        estimate: Decimal,
    ) -> None:
        super().__init__(message)
        self.scope = scope
        self.scope_id = scope_id
        self.window = window
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.estimate = estimate


class PluginError(CostkitError):
    """A plugin failed to load, or an implementation does not match its hook specification."""

    def __init__(self, message: str, *, plugin: str | None = None, hook: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


class StorageError(CostkitError):
    """The ledger database could not be read or written."""


class ProviderError(CostkitError):
    """The provider's API returned an error or could not be reached.

    Attributes:
        provider: The provider name, such as ``"openai"``.
        status_code: The HTTP status, or ``None`` when no answer arrived.
        body: The decoded error body, or ``None``.
        retryable: Whether sending the same request again may succeed.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(ProviderError):
    """The API key is missing, invalid, or lacks permission for the request."""


class RateLimitError(ProviderError):
    """The provider rejected the request for sending too fast; ``retry_after`` is the delay in seconds."""

    retryable = True


class QuotaExceededError(ProviderError):
    """The account has no credit or quota left; retrying does not help until it is raised."""


class ModelNotFoundError(ProviderError):
    """The provider does not know the model, or the key has no access to it."""


class InvalidRequestError(ProviderError):
    """The provider rejected the request body."""


class ContextLengthExceededError(InvalidRequestError):
    """The prompt and the requested output do not fit the model's context window."""


class ServerError(ProviderError):
    """The provider failed on its side (HTTP 5xx, or an error event inside a stream)."""

    retryable = True


class RequestTimeoutError(ProviderError):
    """The provider did not answer within the configured timeout."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """No server answered at the configured address."""

    retryable = True
