"""Requests, responses, stream chunks and the events that hooks receive."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from costkit.errors import ConfigurationError

if TYPE_CHECKING:
    from costkit._price import CostBreakdown
    from costkit._usage import Usage

__all__ = [
    "BudgetExceeded",
    "BudgetThresholdReached",
    "CostCalculated",
    "Message",
    "Request",
    "RequestSent",
    "Response",
    "ResponseGenerated",
    "StreamChunk",
    "new_request_id",
]

ROLES = ("system", "user", "assistant", "tool")


def new_request_id() -> str:
    """Return a new random request id (a UUID4 in hex)."""
    return uuid.uuid4().hex


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _check_role(instance: Any, attribute: Any, value: Any) -> None:
    if value not in ROLES:
        message = f"Message.role must be one of {', '.join(ROLES)}; got {value!r}"
        raise ConfigurationError(message)


@attrs.frozen(slots=True)
class Message:
    """One message of a chat: a role and its text.

    .. versionadded:: 0.1
    """

    role: str = attrs.field(validator=_check_role)
    "``system``, ``user``, ``assistant`` or ``tool``."
    content: str = attrs.field(validator=attrs.validators.instance_of(str))
    "The text of the message."


def _to_messages(value: Any) -> tuple[Message, ...]:
    if isinstance(value, str):
        return (Message("user", value),)
    return tuple(value)


@attrs.frozen(slots=True)
class Request:
    """One call to a model, as it flows through the middleware to the driver.

    Requests are immutable; a middleware that changes one returns ``attrs.evolve(request, ...)``.

    .. versionadded:: 0.1
    """

    provider: str
    "The provider plugin that handles the request, such as ``openai``."
    model: str
    "The model name as the caller gave it."
    messages: tuple[Message, ...] = attrs.field(converter=_to_messages)
    "The conversation so far, oldest first."
    max_output_tokens: int | None = None
    "The most output tokens the model may produce; also bounds the budget reservation."
    operation: str = "chat"
    "What the driver calls: ``chat`` (the default), ``responses``, ``generate`` or ``embed``."
    options: Mapping[str, Any] = attrs.field(factory=dict)
    "Provider parameters passed through as given, such as ``temperature``."
    service_tier: str | None = None
    "The provider's service tier (``flex``, ``priority``...), which also selects the rates."
    user_id: str | None = None
    "The end user the request is made for; scopes budgets and reports."
    project_id: str | None = None
    "The project the request belongs to."
    organization_id: str | None = None
    "The organisation the request belongs to."
    conversation_id: str | None = None
    "The conversation the request is a turn of."
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    "Free-form data kept on the ledger row; never put secrets here."
    request_id: str = attrs.field(factory=new_request_id)
    "A unique id; the ledger stores each request id once."
    created_at: datetime = attrs.field(factory=_utcnow)
    "When the request was made (UTC); prices and budget windows are taken at this time."

    @property
    def prompt_text(self) -> str:
        """All message contents joined by newlines, for estimators."""
        return "\n".join(message.content for message in self.messages)


@attrs.frozen(slots=True)
class StreamChunk:
    """A piece of a streamed answer.

    .. versionadded:: 0.1
    """

    text: str
    "The text added by this chunk; empty for chunks that carry only metadata."
    raw: Any = attrs.field(default=None, repr=False)
    "The decoded event the chunk came from."


@attrs.define(slots=True, eq=False)
class Response:
    """A model's answer with its usage; its cost is computed on demand.

    ``cost`` prices the usage through the pricing chain the first time it is read, so it works
    with no ledger and no middleware configured.

    .. versionadded:: 0.1
    """

    request: Request
    "The request that produced the response."
    text: str
    "The answer's text; for a stream, everything received."
    usage: Usage | None
    "The token counts, ``None`` only when neither the provider nor an estimate gave any."
    model: str
    "The model that answered, as the provider named it (it may differ from the requested one)."
    raw: Any = attrs.field(default=None, repr=False)
    "The decoded response body, or the list of stream events."
    elapsed: float = 0.0
    "Seconds from sending the request to the end of the answer."
    streamed: bool = False
    "True when the answer arrived as a stream."
    status: str = "complete"
    "``complete``; ``closed`` for a stream closed early; ``interrupted`` for one cut off."
    finish_reason: str | None = None
    "Why the model stopped, as the provider says it (``stop``, ``length``...)."
    metadata: dict[str, Any] = attrs.field(factory=dict)
    "Provider details such as Ollama's durations."
    _pricer: Callable[[Response], CostBreakdown] | None = attrs.field(default=None, repr=False, alias="pricer")
    _cost: CostBreakdown | None = attrs.field(default=None, init=False, repr=False)

    @property
    def provider(self) -> str:
        """The provider that answered."""
        return self.request.provider

    @property
    def request_id(self) -> str:
        """The id of the request this response answers."""
        return self.request.request_id

    @property
    def cost(self) -> CostBreakdown:
        """The cost of this response, computed once through the pricing chain.

        Raises:
            PriceNotFoundError: No source prices the model and the policy is ``raise``.
        """
        if self._cost is None:
            pricer = self._pricer
            if pricer is None:
                from costkit._chain import default_pricer

                pricer = default_pricer
            self._cost = pricer(self)
        return self._cost

    @cost.setter
    def cost(self, value: CostBreakdown) -> None:
        self._cost = value

    @property
    def total_cost(self) -> Decimal:
        """The total of :attr:`cost`, in its currency."""
        return self.cost.total


# --- Events -------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class RequestSent:
    """A request passed every middleware and is about to reach the provider."""

    request: Request
    "The request as the driver receives it."


@attrs.frozen(slots=True)
class ResponseGenerated:
    """A provider answered (for a stream: the stream ended)."""

    request: Request
    "The request that was answered."
    response: Response
    "The response, before the outer middleware see it."


@attrs.frozen(slots=True)
class CostCalculated:
    """The cost of a response was computed and is about to be written to the ledger."""

    request: Request
    "The request that was answered."
    response: Response
    "The response that was priced."
    cost: CostBreakdown
    "The computed cost."


@attrs.frozen(slots=True)
class BudgetThresholdReached:
    """A budget's spend in its current window passed an alert threshold, for the first time."""

    scope: str
    "``user``, ``project``, ``organization`` or ``global``."
    scope_id: str | None
    "The user, project or organisation id; ``None`` for the global scope."
    window: str
    "``request``, ``daily``, ``weekly``, ``monthly`` or ``total``."
    threshold: Decimal
    "The threshold that was passed, as a fraction of the limit (``0.75``)."
    limit: Decimal
    "The budget's limit."
    spent: Decimal
    "The settled spend in the window after the request."
    window_start: datetime | None
    "Start of the window (UTC), ``None`` for ``total`` and ``request``."


@attrs.frozen(slots=True)
class BudgetExceeded:
    """A request was refused because its worst-case cost did not fit a budget."""

    request: Request
    "The refused request."
    error: Any
    "The :class:`~costkit.BudgetExceededError` raised to the caller."
