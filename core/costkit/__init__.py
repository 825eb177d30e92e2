"""costkit: call LLM providers through one API and know exactly what every response cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from costkit._chain import calculate_cost, extract_usage
from costkit._estimate import estimate_tokens
from costkit._models import (
    BudgetExceeded,
    BudgetThresholdReached,
    CostCalculated,
    Message,
    Request,
    RequestSent,
    Response,
    ResponseGenerated,
    StreamChunk,
)
from costkit._price import CostBreakdown, ModelPrice, PriceTier, ServiceTierPrice
from costkit._usage import Usage
from costkit._warnings import CostkitWarning, PluginWarning
from costkit.errors import (
    AuthenticationError,
    BudgetExceededError,
    ConfigurationError,
    ContextLengthExceededError,
    CostkitError,
    InvalidRequestError,
    MiddlewareError,
    MissingExtraError,
    ModelNotFoundError,
    PluginError,
    PriceNotFoundError,
    PricingError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StorageError,
    UsageError,
)
from costkit.plugin import hookimpl

if TYPE_CHECKING:
    from costkit._client import AsyncClient, AsyncStream, Client, Conversation, Stream

__all__ = [
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BudgetExceeded",
    "BudgetExceededError",
    "BudgetThresholdReached",
    "Client",
    "ConfigurationError",
    "ContextLengthExceededError",
    "Conversation",
    "CostBreakdown",
    "CostCalculated",
    "CostkitError",
    "CostkitWarning",
    "InvalidRequestError",
    "Message",
    "MiddlewareError",
    "MissingExtraError",
    "ModelNotFoundError",
    "ModelPrice",
    "PluginError",
    "PluginWarning",
    "PriceNotFoundError",
    "PriceTier",
    "PricingError",
    "ProviderConnectionError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "Request",
    "RequestSent",
    "RequestTimeoutError",
    "Response",
    "ResponseGenerated",
    "ServerError",
    "ServiceTierPrice",
    "StorageError",
    "Stream",
    "StreamChunk",
    "Usage",
    "UsageError",
    "__version__",
    "calculate_cost",
    "estimate_tokens",
    "extract_usage",
    "hookimpl",
]

__version__ = "0.1.0"

# The client pulls in httpx and peewee; importing it on first use keeps `import costkit` fast
# for code that only prices usage.
_LAZY = {"AsyncClient", "AsyncStream", "Client", "Conversation", "Stream"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from costkit import _client

        return getattr(_client, name)
    message = f"module 'costkit' has no attribute {name!r}"
    raise AttributeError(message)
