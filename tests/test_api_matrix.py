"""Every way of calling a model goes through the same middleware and costs the same.

The matrix runs {send, conversation, stream} x {sync, async} x {no middleware, global,
global + per-request, disabled} with the OpenAI plugin replaying recorded bodies, on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import httpx
import pytest

import costkit
import costkit_openai
from costkit import AsyncClient, Client, Response, Usage
from costkit.middleware import Call, Middleware
from costkit.plugin.manager import PluginManager
from costkit.testing import expected_usage, fixtures_dir, replay_transport

PLAIN_BODY = "openai-chat-completions-cached-01.json"
STREAM_BODY = "openai-chat-completions-stream-text-usage-01.sse"

pytestmark = pytest.mark.skipif(fixtures_dir() is None, reason="recorded provider payloads not found")


class Trace:
    """Records which middleware hook ran, in order."""

    events: ClassVar[list[str]] = []


class TraceMiddleware(Middleware):
    name = "trace"
    label = "trace"

    def on_request(self, call: Call) -> None:
        Trace.events.append(f"{self.label}:request")

    def on_response(self, call: Call, response: Response) -> None:
        Trace.events.append(f"{self.label}:response:{response.status}")

    def on_error(self, call: Call, error: BaseException) -> None:
        Trace.events.append(f"{self.label}:error:{type(error).__name__}")


class OuterTrace(TraceMiddleware):
    name = label = "outer"


class InnerTrace(TraceMiddleware):
    name = label = "inner"


class MatrixPlugin:
    """Registers the two tracing middleware for these tests."""

    @staticmethod
    @costkit.hookimpl
    def costkit_register_middleware(register: Callable[..., None]) -> None:
        register("outer", OuterTrace)
        register("inner", InnerTrace)


def route(request: httpx.Request) -> str:
    """Answer streamed requests with the recorded stream, others with the plain body."""
    body = json.loads(request.content)
    return STREAM_BODY if body.get("stream") else PLAIN_BODY


@pytest.fixture
def manager(plugin_manager: PluginManager) -> PluginManager:
    plugin_manager.register(costkit_openai, name="openai")
    plugin_manager.register(MatrixPlugin, name="matrix")
    Trace.events = []
    return plugin_manager


MIDDLEWARE_SETUPS: dict[str, dict[str, Any]] = {
    "none": {"middleware": [], "extra": None, "disable": False},
    "global": {"middleware": ["budget-enforcement", "cost-tracking", "outer"], "extra": None, "disable": False},
    "global+request": {
        "middleware": ["budget-enforcement", "cost-tracking", "outer"],
        "extra": ["inner"],
        "disable": False,
    },
    "disabled": {"middleware": ["budget-enforcement", "cost-tracking", "outer"], "extra": ["inner"], "disable": True},
}

EXPECTED_TRACE = {
    "none": [],
    "global": ["outer:request", "outer:response:complete"],
    "global+request": ["outer:request", "inner:request", "inner:response:complete", "outer:response:complete"],
    "disabled": [],
}


def expected_cost(name: str, model: str) -> Decimal:
    """Price a recorded body's expected usage with the OpenAI table, independently of the client."""
    counts = {key: value for key, value in expected_usage(name)["usage"].items() if key.endswith("_tokens")}
    usage = Usage(**counts)
    return costkit.pricing.PricingChain([costkit_openai._prices.TABLE]).calculate("openai", model, usage).total


def make_client(cls: type, manager: PluginManager, database_url: str, setup: dict[str, Any]) -> Any:
    return cls(
        database_url=database_url,
        middleware=setup["middleware"],
        disable_middleware=setup["disable"],
        plugins=manager,
        provider_options={"openai": {"api_key": "sk-test", "transport": replay_transport(route)}},
    )


def run_sync(client: Client, pattern: str, extra: list[str] | None) -> Response:
    if pattern == "send":
        return client.send("Hello", provider="openai", model="gpt-4o-mini", user_id="u1", middleware=extra)
    if pattern == "conversation":
        conversation = client.conversation().provider("openai").model("gpt-4o-mini").user("u1")
        if extra:
            conversation.middleware(extra)
        return conversation.message("Hello").send()
    stream = client.stream("Hello", provider="openai", model="gpt-4o-mini", user_id="u1", middleware=extra)
    text = "".join(chunk.text for chunk in stream)
    assert stream.response is not None
    assert stream.response.text == text
    return stream.response


async def run_async(client: AsyncClient, pattern: str, extra: list[str] | None) -> Response:
    if pattern == "send":
        return await client.send("Hello", provider="openai", model="gpt-4o-mini", user_id="u1", middleware=extra)
    if pattern == "conversation":
        conversation = client.conversation().provider("openai").model("gpt-4o-mini").user("u1")
        if extra:
            conversation.middleware(extra)
        return await conversation.message("Hello").send()
    stream = client.stream("Hello", provider="openai", model="gpt-4o-mini", user_id="u1", middleware=extra)
    text = "".join([chunk.text async for chunk in stream])
    assert stream.response is not None
    assert stream.response.text == text
    return stream.response


@pytest.mark.parametrize("setup_name", list(MIDDLEWARE_SETUPS))
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("pattern", ["send", "conversation", "stream"])
def test_pattern_matrix(manager: PluginManager, database_url: str, pattern: str, mode: str, setup_name: str) -> None:
    """Each pattern runs the same middleware in the same order and costs what its usage says."""
    setup = MIDDLEWARE_SETUPS[setup_name]
    if mode == "sync":
        client = make_client(Client, manager, database_url, setup)
        response = run_sync(client, pattern, setup["extra"])
    else:
        client = make_client(AsyncClient, manager, database_url, setup)
        response = asyncio.run(run_async(client, pattern, setup["extra"]))

    body = STREAM_BODY if pattern == "stream" else PLAIN_BODY
    assert response.usage is not None
    assert response.total_cost == expected_cost(body, response.model)
    assert Trace.events == EXPECTED_TRACE[setup_name]

    ledger = client.ledger.records()
    if setup_name in ("global", "global+request"):
        assert [record.request_id for record in ledger] == [response.request_id]
        assert ledger[0].cost == response.total_cost
        assert ledger[0].streamed is (pattern == "stream")
        assert client.ledger.total() == response.total_cost
    else:
        assert ledger == []


def test_ledger_total_equals_response_costs(manager: PluginManager, database_url: str) -> None:
    """Over every pattern and mode, the ledger total is the exact sum of the response costs."""
    setup = MIDDLEWARE_SETUPS["global+request"]
    sync_client = make_client(Client, manager, database_url, setup)
    async_client = make_client(AsyncClient, manager, database_url, setup)
    costs = []
    for pattern in ("send", "conversation", "stream"):
        costs.append(run_sync(sync_client, pattern, setup["extra"]).total_cost)
        costs.append(asyncio.run(run_async(async_client, pattern, setup["extra"])).total_cost)
    assert sync_client.ledger.total() == sum(costs, Decimal(0))
    report = sync_client.ledger.report("model")
    assert sum(row.requests for row in report) == 6
    assert sum((row.cost for row in report), Decimal(0)) == sum(costs, Decimal(0))


def test_per_request_exclusion(manager: PluginManager, database_url: str) -> None:
    """A request can remove a global middleware by name."""
    client = make_client(Client, manager, database_url, MIDDLEWARE_SETUPS["global"])
    client.send("Hello", provider="openai", model="gpt-4o-mini", exclude_middleware=["outer", "cost-tracking"])
    assert Trace.events == []
    assert client.ledger.records() == []
