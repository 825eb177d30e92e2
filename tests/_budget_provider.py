"""A fake provider for the ledger and budget tests: an HTTPDriver over httpx.MockTransport.

The fake server responds to ``POST /chat`` with a JSON body, or with NDJSON events when the
request sets ``stream``. It reports the usage the request puts in ``reply_usage`` (pass
``options={"reply_usage": {"input": 10, "output": 20}}`` to the client), else
:data:`DEFAULT_USAGE`. Each stream event carries the running usage, so a stream closed
early is priced from what was received.

Prices (USD per million tokens) are in :data:`PRICES`: ``priced`` (1 input, 2 output),
``even`` (10 and 10, for costs that come out exact), ``free-model`` (free by declaration).
Any other model has no price.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Final

import httpx

import costkit
from costkit._estimate import upper_bound_prompt_tokens
from costkit.plugin.manager import PluginManager
from costkit.pricing import StaticPriceTable

__all__ = [
    "DEFAULT_USAGE",
    "PRICES",
    "PROVIDER",
    "TABLE_NAME",
    "FakeServer",
    "client",
    "estimate",
    "plugin_manager",
]

PROVIDER: Final = "fake"
TABLE_NAME: Final = "fake price table (test rates)"
DEFAULT_USAGE: Final = {"input": 1000, "output": 2000}
"""Usage the fake server reports when the request sets no ``reply_usage``."""

PRICES: Final = (
    costkit.ModelPrice(provider=PROVIDER, model="priced", input="1", output="2", source=TABLE_NAME),
    costkit.ModelPrice(provider=PROVIDER, model="even", input="10", output="10", source=TABLE_NAME),
    costkit.ModelPrice(provider=PROVIDER, model="free-model", free=True, source=TABLE_NAME),
)

STREAM_PIECES: Final = ("one ", "two ", "three ", "four")
"""The text pieces of a streamed response, one NDJSON event each."""


def estimate(prompt: str, max_output_tokens: int, *, input_rate: str, output_rate: str) -> Decimal:
    """Return the worst-case cost budget-enforcement reserves for a one-message prompt."""
    input_tokens = upper_bound_prompt_tokens([prompt])
    return (input_tokens * Decimal(input_rate) + max_output_tokens * Decimal(output_rate)).scaleb(-6)


def _usage(event: Mapping[str, Any]) -> costkit.Usage | None:
    usage = event.get("usage")
    if not isinstance(usage, Mapping):
        return None
    return costkit.Usage(input_tokens=usage["input"], output_tokens=usage["output"])


def extract(payload: Any, *, stream: bool) -> costkit.Usage | None:
    """Read the usage of a body, or the last usage of a list of stream events."""
    if not stream:
        return _usage(payload) if isinstance(payload, Mapping) else None
    found = None
    for event in payload:
        usage = _usage(event) if isinstance(event, Mapping) else None
        if usage is not None:
            found = usage
    return found


def _driver_class() -> type:
    from costkit.drivers import HTTPCall, HTTPDriver, ParsedResponse

    class FakeDriver(HTTPDriver):
        provider = PROVIDER
        default_base_url = "http://fake.invalid"
        stream_framing = "ndjson"

        def auth_headers(self) -> dict[str, str]:
            return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

        def build_call(self, request: costkit.Request, *, stream: bool) -> HTTPCall:
            body = {
                "model": request.model,
                "prompt": request.prompt_text,
                "max_tokens": request.max_output_tokens,
                "stream": stream,
                **request.options,
            }
            return HTTPCall("/chat", json=body)

        def parse_response(self, request: costkit.Request, payload: Any) -> ParsedResponse:
            return ParsedResponse(text=payload["text"], usage=extract(payload, stream=False), model=payload["model"])

        def parse_stream_event(self, request: costkit.Request, event: Any, state: Any) -> str:
            state.model = event.get("model", state.model)
            return str(event.get("text", ""))

        def stream_usage(self, request: costkit.Request, state: Any) -> costkit.Usage | None:
            return extract(state.events, stream=True)

    return FakeDriver


class FakeServer:
    """The fake provider's HTTP side: counts calls and can hold a request open.

    Args:
        hold: An awaitable factory that async requests await before the response, so a test
            can cancel a request in flight; ``None`` responds at once.
        status: The HTTP status to respond with; any status >= 400 comes with an error body.
        delay: Seconds a sync request waits before the response, so requests of several
            processes overlap.
    """

    def __init__(self, hold: Callable[[], Any] | None = None, status: int = 200, delay: float = 0.0) -> None:
        self.hold = hold
        self.status = status
        self.delay = delay
        self.calls = 0
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self.urls: list[str] = []

    def _answer(self, request: httpx.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        self.calls += 1
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers)
        self.urls.append(str(request.url))
        usage = body.get("reply_usage") or DEFAULT_USAGE
        return body, usage

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Respond to a sync request."""
        body, usage = self._answer(request)
        if self.delay:
            time.sleep(self.delay)
        if self.status >= 400:
            return httpx.Response(self.status, json={"error": "failed on purpose"})
        if body.get("stream"):
            return httpx.Response(200, content=_stream_lines(body, usage))
        return httpx.Response(200, json={"model": body["model"], "text": "done", "usage": usage})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        """Respond to an async request, after awaiting ``hold`` when it is set."""
        body, usage = self._answer(request)
        if self.hold is not None:
            await self.hold()
        if body.get("stream"):
            return httpx.Response(200, content=_async_lines(body, usage))
        return httpx.Response(200, json={"model": body["model"], "text": "done", "usage": usage})

    def transport(self) -> httpx.MockTransport:
        """A transport for the sync client."""
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        """A transport for the async client."""
        return httpx.MockTransport(self.handle_async)


def _stream_events(body: Mapping[str, Any], usage: Mapping[str, int]) -> Iterator[bytes]:
    count = len(STREAM_PIECES)
    for index, piece in enumerate(STREAM_PIECES, start=1):
        # The running usage after this piece, as a provider reporting running totals would.
        running = {"input": usage["input"], "output": usage["output"] * index // count}
        event = {"model": body["model"], "text": piece, "usage": running}
        yield (json.dumps(event) + "\n").encode()


def _stream_lines(body: Mapping[str, Any], usage: Mapping[str, int]) -> Iterator[bytes]:
    yield from _stream_events(body, usage)


async def _async_lines(body: Mapping[str, Any], usage: Mapping[str, int]) -> AsyncIterator[bytes]:
    for line in _stream_events(body, usage):
        yield line


class _Plugin:
    """The fake provider's hook implementations."""

    def __init__(self) -> None:
        self.table = StaticPriceTable(TABLE_NAME, PRICES)

    @costkit.hookimpl
    def costkit_register_drivers(self, register: Callable[..., None]) -> None:
        register(PROVIDER, lambda **options: _driver_class()(**options))

    @costkit.hookimpl
    def costkit_register_token_extractors(self, register: Callable[..., None]) -> None:
        register(PROVIDER, extract)

    @costkit.hookimpl
    def costkit_register_pricing_sources(self, register: Callable[..., None]) -> None:
        register(self.table, priority=100)


def plugin_manager(*listeners: object) -> PluginManager:
    """Return an isolated plugin manager with the built-ins, the fake provider and ``listeners``."""
    manager = PluginManager(load_entry_points=False)
    manager.register(_Plugin(), name="fake-provider")
    for index, listener in enumerate(listeners):
        manager.register(listener, name=f"listener-{index}")
    return manager


def client(
    database_url: str,
    server: FakeServer | None = None,
    *,
    listeners: tuple[object, ...] = (),
    asynchronous: bool = False,
    api_key: str | None = None,
    **settings: Any,
) -> Any:
    """Build a Client (or AsyncClient) on ``database_url`` that sends to ``server``."""
    server = server or FakeServer()
    transport = server.async_transport() if asynchronous else server.transport()
    options: dict[str, Any] = {"transport": transport, "max_retries": 0}
    if api_key is not None:
        options["api_key"] = api_key
    client_class = costkit.AsyncClient if asynchronous else costkit.Client
    return client_class(
        database_url,
        provider_options={PROVIDER: options},
        plugins=plugin_manager(*listeners),
        **settings,
    )
