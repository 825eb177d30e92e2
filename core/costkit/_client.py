"""The clients: ``Client`` and ``AsyncClient``, their conversations and streams."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from costkit._chain import build_chain
from costkit._config import Settings, load_settings
from costkit._models import Message, Request, Response
from costkit._pipeline import AsyncPipelineStream, Pipeline, PipelineStream, check_not_in_middleware
from costkit.errors import ConfigurationError, CostkitError, MiddlewareError
from costkit.middleware import Call, Middleware
from costkit.plugin.manager import PluginManager, get_plugin_manager

if TYPE_CHECKING:
    from costkit.budgets import BudgetStore
    from costkit.conversations import ConversationStore
    from costkit.db import Database
    from costkit.db.prices import PriceStore
    from costkit.drivers import Driver
    from costkit.ledger import Ledger
    from costkit.pricing import PricingChain

__all__ = ["AsyncClient", "AsyncConversation", "AsyncStream", "Client", "ClientContext", "Conversation", "Stream"]

logger = logging.getLogger(__name__)

Stream = PipelineStream
AsyncStream = AsyncPipelineStream


class ClientContext:
    """The settings, plugins, database, pricing chain and ledger that a client's middleware use.

    The database opens on first use: a request through middleware that records or enforces,
    or the first use of ``prices``, ``budgets``, ``ledger`` or ``conversations``.
    """

    def __init__(
        self,
        settings: Settings,
        plugins: PluginManager,
        provider_options: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.provider_options = {name: dict(options) for name, options in provider_options.items()}
        self._database: Database | None = None
        self._chain: PricingChain | None = None
        self._chain_without_database = False
        self._ledger: Ledger | None = None
        self._drivers: dict[str, Driver] = {}
        self._lock = threading.RLock()

    @property
    def database(self) -> Database:
        """The ledger database, opened (and migrated) on first use."""
        if self._database is None:
            with self._lock:
                if self._database is None:
                    from costkit.db import open_configured_database

                    database = open_configured_database(self.settings, create=True)
                    assert database is not None
                    self._database = database
                    if self._chain_without_database:
                        # Rebuild the chain so that database prices take part from now on.
                        self._chain = None
                        self._chain_without_database = False
        return self._database

    @property
    def chain(self) -> PricingChain:
        """The pricing chain: the database first, then the plugins' tables.

        Pricing alone never creates the default SQLite file: until the client needs the
        database for something else, a missing default file leaves the database out.
        """
        if self._chain is None:
            with self._lock:
                if self._chain is None:
                    database = self._database
                    if database is None:
                        from costkit.db import open_configured_database

                        database = open_configured_database(self.settings, create=False)
                        self._database = database
                    self._chain_without_database = database is None
                    self._chain = build_chain(
                        self.plugins,
                        database,
                        policy=self.settings.price_policy,
                        check_interval=self.settings.price_cache_seconds,
                    )
        return self._chain

    @property
    def ledger(self) -> Ledger:
        """The cost ledger in :attr:`database`."""
        if self._ledger is None:
            with self._lock:
                if self._ledger is None:
                    from costkit.ledger import Ledger

                    self._ledger = Ledger(self.database, chain=self.chain, journal_path=self.settings.journal_path)
        return self._ledger

    def driver(self, provider: str) -> Driver:
        """Return the driver of ``provider``, created on first use with the configured options."""
        driver = self._drivers.get(provider)
        if driver is not None:
            return driver
        with self._lock:
            driver = self._drivers.get(provider)
            if driver is None:
                factories = self.plugins.drivers()
                factory = factories.get(provider)
                if factory is None:
                    installed = ", ".join(sorted(factories)) or "none"
                    message = (
                        f"no driver for provider {provider!r} (installed: {installed}); install the plugin "
                        "package of that provider (costkit-openai, costkit-xai, costkit-gemini, costkit-ollama "
                        "or a third-party one), and check that COSTKIT_DISABLE_PLUGINS does not block it"
                    )
                    raise ConfigurationError(message)
                options = {**self.settings.providers.get(provider, {}), **self.provider_options.get(provider, {})}
                driver = factory(**options)
                self._drivers[provider] = driver
        return driver

    def close(self) -> None:
        """Close every driver's sync HTTP client."""
        for driver in self._drivers.values():
            driver.close()

    async def aclose(self) -> None:
        """Close every driver's HTTP clients."""
        for driver in self._drivers.values():
            await driver.aclose()


class _ClientBase:
    def __init__(
        self,
        database_url: str | None = None,
        middleware: Sequence[str] | None = None,
        *,
        provider_options: Mapping[str, Mapping[str, Any]] | None = None,
        middleware_options: Mapping[str, Mapping[str, Any]] | None = None,
        disable_middleware: bool = False,
        price_policy: str | None = None,
        budget: Mapping[str, Any] | None = None,
        plugins: PluginManager | None = None,
    ) -> None:
        settings = load_settings(
            database_url=database_url,
            middleware=list(middleware) if middleware is not None else None,
            middleware_options=dict(middleware_options) if middleware_options is not None else None,
            price_policy=price_policy,
            budget=budget,
        )
        self._context = ClientContext(settings, plugins or get_plugin_manager(), provider_options or {})
        self.disable_middleware = disable_middleware
        self._middleware_cache: dict[str, Middleware] = {}
        # Fail at construction, not at the first request, for a misspelt middleware name.
        self._check_names(settings.middleware)

    @property
    def context(self) -> ClientContext:
        """The client's settings, plugins, database, pricing chain and ledger."""
        return self._context

    @property
    def settings(self) -> Settings:
        """The resolved settings."""
        return self._context.settings

    @property
    def prices(self) -> PriceStore:
        """The prices stored in the database: ``set``, ``get``, ``list``, ``delete``."""
        from costkit.db.prices import PriceStore

        return PriceStore(self._context.database)

    @property
    def budgets(self) -> BudgetStore:
        """The budgets: ``set``, ``get``, ``usage``, ``delete``."""
        from costkit.budgets import BudgetStore

        return BudgetStore(self._context)

    @property
    def ledger(self) -> Ledger:
        """The cost ledger: ``report``, ``trend``, ``records``, ``reprice``, ``replay``."""
        return self._context.ledger

    @property
    def conversations(self) -> ConversationStore:
        """The stored conversations: ``get``, ``list``."""
        from costkit.conversations import ConversationStore

        return ConversationStore(self._context.database)

    def _check_names(self, names: Iterable[str]) -> None:
        known = self._context.plugins.middleware_classes()
        unknown = [name for name in names if name not in known]
        if unknown:
            message = (
                f"unknown middleware {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known)) or 'none'}. "
                "A third-party middleware is found once its package is installed"
            )
            raise MiddlewareError(message)

    def _middleware(self, extra: Sequence[str] | str | None, exclude: Sequence[str] | str | None) -> list[Middleware]:
        if self.disable_middleware:
            return []
        extra_names = [extra] if isinstance(extra, str) else list(extra or ())
        excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
        self._check_names([*extra_names, *excluded])
        names = [name for name in self.settings.middleware if name not in excluded]
        names += [name for name in extra_names if name not in names and name not in excluded]
        return [self._instance(name) for name in names]

    def _instance(self, name: str) -> Middleware:
        instance = self._middleware_cache.get(name)
        if instance is None:
            middleware_class = self._context.plugins.middleware_classes()[name]
            options = self.settings.middleware_options.get(name, {})
            try:
                instance = middleware_class(self._context, **options)
            except TypeError as exc:
                message = f"invalid options {dict(options)!r} for middleware {name!r}: {exc}"
                raise MiddlewareError(message) from exc
            self._middleware_cache[name] = instance
        return instance

    def _request(
        self,
        prompt: str | Sequence[Message] | None,
        *,
        provider: str | None,
        model: str | None,
        system: str | None = None,
        **fields: Any,
    ) -> Request:
        if not provider or not model:
            message = f"a request needs a provider and a model, got provider={provider!r}, model={model!r}"
            raise ConfigurationError(message)
        if prompt is None:
            message = "a request needs a prompt: a string or a sequence of costkit.Message"
            raise ConfigurationError(message)
        messages = [Message("user", prompt)] if isinstance(prompt, str) else list(prompt)
        if system is not None:
            messages.insert(0, Message("system", system))
        max_output_tokens = fields.get("max_output_tokens")
        if max_output_tokens is not None and (
            isinstance(max_output_tokens, bool) or not isinstance(max_output_tokens, int) or max_output_tokens <= 0
        ):
            message = f"max_output_tokens must be a positive int, got {max_output_tokens!r}"
            raise ConfigurationError(message)
        values = {key: value for key, value in fields.items() if value is not None}
        for key in ("options", "metadata"):
            if key in values:
                values[key] = dict(values[key])
        return Request(provider=provider, model=model, messages=tuple(messages), **values)

    def _pipeline(
        self,
        request: Request,
        middleware: Sequence[str] | str | None,
        exclude: Sequence[str] | str | None,
        stream: bool,
    ) -> Pipeline:
        call = Call(request=request, context=self._context, streamed=stream)
        return Pipeline(self._middleware(middleware, exclude), self._context.driver(request.provider), call)


class Client(_ClientBase):
    """Call any installed provider, with cost tracking and budgets on every request.

    Args:
        database_url: The ledger database (``sqlite:///PATH`` or ``postgresql://...``);
            defaults to ``COSTKIT_DATABASE_URL``, the config file, or a SQLite file in the user
            data directory.
        middleware: Global middleware names, outermost first; defaults to the configuration,
            else ``["budget-enforcement", "cost-tracking"]``.
        provider_options: Driver options per provider, for example
            ``{"openai": {"base_url": "http://127.0.0.1:8080/v1"}}``.
        middleware_options: Options per middleware name.
        disable_middleware: Skip every middleware (no ledger, no budgets) for this client.
        price_policy: ``"raise"`` or ``"warn"`` for a model no source prices.
        budget: Budget settings (see :class:`costkit._config.BudgetSettings`).
        plugins: The plugin manager; defaults to the process-wide one with every installed plugin.

    .. versionadded:: 0.1
    """

    def send(
        self,
        prompt: str | Sequence[Message],
        *,
        provider: str,
        model: str,
        system: str | None = None,
        max_output_tokens: int | None = None,
        user_id: str | None = None,
        project_id: str | None = None,
        organization_id: str | None = None,
        conversation_id: str | None = None,
        operation: str | None = None,
        options: Mapping[str, Any] | None = None,
        service_tier: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        middleware: Sequence[str] | str | None = None,
        exclude_middleware: Sequence[str] | str | None = None,
    ) -> Response:
        """Send one request and return the response.

        Args:
            prompt: The user's text, or a sequence of :class:`~costkit.Message`.
            provider: The provider plugin, such as ``"openai"``.
            model: The model name.
            system: A system prompt placed before the messages.
            max_output_tokens: The maximum number of output tokens; also bounds the budget reservation.
            user_id: The end user (budgets and reports).
            project_id: The project (budgets and reports).
            organization_id: The organisation (budgets and reports).
            conversation_id: The conversation the request belongs to.
            operation: ``chat`` (default), ``responses``, ``generate`` or ``embed``, as the provider supports.
            options: Provider parameters passed through, such as ``{"temperature": 0}``.
            service_tier: The provider's service tier, which also selects the rates.
            metadata: Free-form data kept on the ledger row.
            request_id: Your own unique id; the ledger records each id once.
            middleware: Middleware to add for this request, after the global ones.
            exclude_middleware: Global middleware to skip for this request.

        Raises:
            BudgetExceededError: The request does not fit a budget (nothing was sent).
            PriceNotFoundError: No price for the model (policy ``raise``; nothing was sent).
            ProviderError: The provider failed.
        """
        check_not_in_middleware("Client.send")
        request = self._request(
            prompt,
            provider=provider,
            model=model,
            system=system,
            max_output_tokens=max_output_tokens,
            user_id=user_id,
            project_id=project_id,
            organization_id=organization_id,
            conversation_id=conversation_id,
            operation=operation,
            options=options,
            service_tier=service_tier,
            metadata=metadata,
            request_id=request_id,
        )
        return self._pipeline(request, middleware, exclude_middleware, stream=False).send()

    def stream(
        self,
        prompt: str | Sequence[Message],
        *,
        provider: str,
        model: str,
        system: str | None = None,
        max_output_tokens: int | None = None,
        user_id: str | None = None,
        project_id: str | None = None,
        organization_id: str | None = None,
        conversation_id: str | None = None,
        operation: str | None = None,
        options: Mapping[str, Any] | None = None,
        service_tier: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        middleware: Sequence[str] | str | None = None,
        exclude_middleware: Sequence[str] | str | None = None,
    ) -> Stream:
        """Start a streamed request; iterate the result for chunks, then read ``stream.response``.

        The middleware and the HTTP request run on the first iteration (or when a ``with``
        block is entered). Takes the same arguments as :meth:`send`.
        """
        check_not_in_middleware("Client.stream")
        request = self._request(
            prompt,
            provider=provider,
            model=model,
            system=system,
            max_output_tokens=max_output_tokens,
            user_id=user_id,
            project_id=project_id,
            organization_id=organization_id,
            conversation_id=conversation_id,
            operation=operation,
            options=options,
            service_tier=service_tier,
            metadata=metadata,
            request_id=request_id,
        )
        return PipelineStream(self._pipeline(request, middleware, exclude_middleware, stream=True))

    def conversation(self, conversation_id: str | None = None) -> Conversation:
        """Start a conversation, or resume a stored one by id with its history."""
        check_not_in_middleware("Client.conversation")
        return Conversation(self, conversation_id)

    def close(self) -> None:
        """Close the HTTP connections of every driver."""
        self._context.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The async twin of :class:`Client`: ``await send(...)``, ``async for`` over ``stream(...)``.

    .. versionadded:: 0.1
    """

    async def send(self, prompt: str | Sequence[Message], **fields: Any) -> Response:
        """Send one request and return the response; takes the arguments of :meth:`Client.send`."""
        check_not_in_middleware("AsyncClient.send")
        middleware = fields.pop("middleware", None)
        exclude = fields.pop("exclude_middleware", None)
        request = self._request(prompt, **_request_fields(fields))
        return await self._pipeline(request, middleware, exclude, stream=False).asend()

    def stream(self, prompt: str | Sequence[Message], **fields: Any) -> AsyncStream:
        """Start a streamed request; ``async for`` the result, then read ``stream.response``."""
        check_not_in_middleware("AsyncClient.stream")
        middleware = fields.pop("middleware", None)
        exclude = fields.pop("exclude_middleware", None)
        request = self._request(prompt, **_request_fields(fields))
        return AsyncPipelineStream(self._pipeline(request, middleware, exclude, stream=True))

    def conversation(self, conversation_id: str | None = None) -> AsyncConversation:
        """Start a conversation, or resume a stored one by id with its history."""
        check_not_in_middleware("AsyncClient.conversation")
        return AsyncConversation(self, conversation_id)

    async def aclose(self) -> None:
        """Close the HTTP connections of every driver."""
        await self._context.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


_REQUEST_FIELDS = {
    "provider",
    "model",
    "system",
    "max_output_tokens",
    "user_id",
    "project_id",
    "organization_id",
    "conversation_id",
    "operation",
    "options",
    "service_tier",
    "metadata",
    "request_id",
}


def _request_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - _REQUEST_FIELDS)
    if unknown:
        message = f"unknown argument(s) {', '.join(unknown)}; known: {', '.join(sorted(_REQUEST_FIELDS))}"
        raise TypeError(message)
    fields.setdefault("provider", None)
    fields.setdefault("model", None)
    return fields


class _ConversationBase:
    """A builder of multi-turn conversations that keeps the history and, with a database, stores it."""

    def __init__(self, client: _ClientBase, conversation_id: str | None) -> None:
        self._client = client
        self._history: list[Message] = []
        self._pending: list[Message] = []
        self._turn_costs: list[Decimal | None] = []
        self._provider: str | None = None
        self._model: str | None = None
        self._system: str | None = None
        self._title: str | None = None
        self._options: dict[str, Any] = {}
        self._fields: dict[str, Any] = {}
        self._middleware: list[str] = []
        self._exclude: list[str] = []
        if conversation_id is None:
            self.id = uuid.uuid4().hex
            "The conversation id; ledger rows of its turns carry it."
        else:
            self.id = conversation_id
            self._load(conversation_id)

    def _load(self, conversation_id: str) -> None:
        record = self._client.conversations.get(conversation_id)
        self._provider = record.provider
        self._model = record.model
        self._system = record.system_prompt
        self._title = record.title
        self._fields.update(
            {
                key: value
                for key, value in (
                    ("user_id", record.user_id),
                    ("project_id", record.project_id),
                    ("organization_id", record.organization_id),
                )
                if value is not None
            }
        )
        self._history = [Message(m.role, m.content) for m in record.messages]
        self._turn_costs = [m.cost for m in record.messages if m.role == "assistant"]

    # --- Builder ---------------------------------------------------------------------------

    def provider(self, name: str) -> Any:
        """Set the provider of the next turns."""
        self._provider = name
        return self

    def model(self, name: str) -> Any:
        """Set the model of the next turns."""
        self._model = name
        return self

    def system(self, text: str) -> Any:
        """Set the system prompt sent before the history."""
        self._system = text
        return self

    def title(self, text: str) -> Any:
        """Set the stored title."""
        self._title = text
        return self

    def message(self, text: str, role: str = "user") -> Any:
        """Add a message to send with the next turn."""
        self._pending.append(Message(role, text))
        return self

    def add(self, messages: Iterable[Message]) -> Any:
        """Add several messages (:class:`~costkit.Message`) to send with the next turn."""
        self._pending.extend(messages)
        return self

    def options(self, **options: Any) -> Any:
        """Set provider parameters for the next turns (``temperature=0``...)."""
        self._options.update(options)
        return self

    def max_output_tokens(self, value: int) -> Any:
        """Set the most output tokens per turn."""
        self._fields["max_output_tokens"] = value
        return self

    def user(self, user_id: str) -> Any:
        """Set the user the conversation is for."""
        self._fields["user_id"] = user_id
        return self

    def project(self, project_id: str) -> Any:
        """Set the project the conversation belongs to."""
        self._fields["project_id"] = project_id
        return self

    def organization(self, organization_id: str) -> Any:
        """Set the organisation the conversation belongs to."""
        self._fields["organization_id"] = organization_id
        return self

    def middleware(self, names: str | Sequence[str]) -> Any:
        """Add middleware for this conversation's turns, after the global ones."""
        self._middleware.extend([names] if isinstance(names, str) else names)
        return self

    def exclude_middleware(self, names: str | Sequence[str]) -> Any:
        """Skip global middleware for this conversation's turns."""
        self._exclude.extend([names] if isinstance(names, str) else names)
        return self

    # --- State -----------------------------------------------------------------------------

    @property
    def messages(self) -> tuple[Message, ...]:
        """The history (without the system prompt), oldest first."""
        return tuple(self._history)

    @property
    def message_count(self) -> int:
        """The number of messages in the history, the system prompt not counted."""
        return len(self._history)

    @property
    def total_cost(self) -> Decimal:
        """The exact sum of the cost of every priced turn."""
        return sum((cost for cost in self._turn_costs if cost is not None), Decimal(0))

    def _next_request(self) -> Request:
        if not self._pending:
            message = "add a message with .message(text) before sending the next turn"
            raise ConfigurationError(message)
        prompt = [*self._history, *self._pending]
        return self._client._request(
            prompt,
            provider=self._provider,
            model=self._model,
            system=self._system,
            conversation_id=self.id,
            options=self._options or None,
            **self._fields,
        )

    def _record_turn(self, response: Response) -> None:
        sent = list(self._pending)
        try:
            cost: Decimal | None = response.cost.total
        except CostkitError:
            logger.warning("Turn %s of conversation %s could not be priced", response.request_id, self.id)
            cost = None
        self._client.conversations.save_turn(
            self.id, sent=sent, response=response, cost=cost, title=self._title, system_prompt=self._system
        )
        self._history.extend(sent)
        self._history.append(Message("assistant", response.text))
        self._pending = []
        self._turn_costs.append(cost)


class Conversation(_ConversationBase):
    """A conversation on a :class:`Client`; build with chained calls, then ``send()`` or ``stream()``.

    .. versionadded:: 0.1
    """

    def send(self) -> Response:
        """Send the pending messages with the history; store the turn when it succeeds."""
        check_not_in_middleware("Conversation.send")
        request = self._next_request()
        client = self._client
        response = client._pipeline(request, self._middleware, self._exclude, stream=False).send()
        self._record_turn(response)
        return response

    def stream(self) -> Stream:
        """Stream the next turn; it is stored when the stream ends or is closed early."""
        check_not_in_middleware("Conversation.stream")
        request = self._next_request()
        stream = PipelineStream(self._client._pipeline(request, self._middleware, self._exclude, stream=True))
        stream.on_settled.append(self._record_turn)
        return stream


class AsyncConversation(_ConversationBase):
    """A conversation on an :class:`AsyncClient`; ``await send()`` or ``async for`` over ``stream()``.

    .. versionadded:: 0.1
    """

    async def send(self) -> Response:
        """Send the pending messages with the history; store the turn when it succeeds."""
        check_not_in_middleware("AsyncConversation.send")
        request = self._next_request()
        response = await self._client._pipeline(request, self._middleware, self._exclude, stream=False).asend()
        self._record_turn(response)
        return response

    def stream(self) -> AsyncStream:
        """Stream the next turn; it is stored when the stream ends or is closed early."""
        check_not_in_middleware("AsyncConversation.stream")
        request = self._next_request()
        stream = AsyncPipelineStream(self._client._pipeline(request, self._middleware, self._exclude, stream=True))
        stream.on_settled.append(self._record_turn)
        return stream
