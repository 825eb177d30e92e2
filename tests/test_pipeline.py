"""Tests of the middleware pipeline: guards, events, third-party middleware and cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

import costkit
import costkit_openai
from costkit import AsyncClient, Client, MiddlewareError, Response
from costkit.middleware import Call, Middleware
from costkit.plugin.manager import PluginManager
from costkit.testing import fixtures_dir, load_body, replay_transport

pytestmark = pytest.mark.skipif(fixtures_dir() is None, reason="recorded provider payloads not found")

PLAIN_BODY = "openai-chat-completions-cached-01.json"
STREAM_BODY = "openai-chat-completions-stream-text-usage-01.sse"
MODEL = "gpt-4o-mini"


class Recorder:
    hooks: ClassVar[list[str]] = []
    events: ClassVar[list[Any]] = []


class RecursiveMiddleware(Middleware):
    name = "recursive"
    client: Any = None

    def on_request(self, call: Call) -> None:
        self.client.send("again", provider="openai", model=MODEL)


class CleanupMiddleware(Middleware):
    name = "cleanup"

    def on_request(self, call: Call) -> None:
        Recorder.hooks.append("request")

    def on_response(self, call: Call, response: Response) -> None:
        Recorder.hooks.append(f"response:{response.status}")

    def on_error(self, call: Call, error: BaseException) -> None:
        Recorder.hooks.append(f"error:{type(error).__name__}")


class PipelinePlugin:
    @staticmethod
    @costkit.hookimpl
    def costkit_register_middleware(register: Callable[..., None]) -> None:
        register("recursive", RecursiveMiddleware)
        register("cleanup", CleanupMiddleware)

    @staticmethod
    @costkit.hookimpl
    def costkit_request_sent(event: costkit.RequestSent) -> None:
        Recorder.events.append(("sent", event.request))

    @staticmethod
    @costkit.hookimpl
    def costkit_response_generated(event: costkit.ResponseGenerated) -> None:
        Recorder.events.append(("generated", event.request, event.response))

    @staticmethod
    @costkit.hookimpl
    def costkit_cost_calculated(event: costkit.CostCalculated) -> None:
        Recorder.events.append(("cost", event.request, event.cost))


@pytest.fixture
def manager(plugin_manager: PluginManager) -> PluginManager:
    plugin_manager.register(costkit_openai, name="openai")
    plugin_manager.register(PipelinePlugin, name="pipeline")
    Recorder.hooks = []
    Recorder.events = []
    return plugin_manager


def route(request: httpx.Request) -> str:
    return STREAM_BODY if json.loads(request.content).get("stream") else PLAIN_BODY


def client_for(
    manager: PluginManager, ledger_database: str, transport: httpx.BaseTransport | None = None, **kw: Any
) -> Client:
    return Client(
        database_url=ledger_database,
        plugins=manager,
        provider_options={"openai": {"api_key": "sk-test", "transport": transport or replay_transport(route)}},
        **kw,
    )


class TestGuards:
    def test_middleware_calling_client_gets_clear_error(self, manager: PluginManager, ledger_database: str) -> None:
        """A middleware that calls the client gets MiddlewareError naming it, not endless recursion."""
        client = client_for(manager, ledger_database, middleware=["recursive"])
        RecursiveMiddleware.client = client
        with pytest.raises(MiddlewareError, match=r"'recursive' called Client.send"):
            client.send("Hello", provider="openai", model=MODEL)

    def test_unknown_middleware_lists_known(self, manager: PluginManager, ledger_database: str) -> None:
        """An unknown middleware name is an error listing the known ones."""
        with pytest.raises(MiddlewareError, match=r"unknown middleware 'audti'; known: .*cost-tracking"):
            client_for(manager, ledger_database, middleware=["audti"])

    def test_unknown_per_request_middleware(self, manager: PluginManager, ledger_database: str) -> None:
        """An unknown per-request middleware is rejected before anything is sent."""
        client = client_for(manager, ledger_database)
        with pytest.raises(MiddlewareError, match="'nope'"):
            client.send("Hello", provider="openai", model=MODEL, middleware="nope")

    def test_unknown_middleware_option(self, manager: PluginManager, ledger_database: str) -> None:
        """An option the middleware does not take is an error naming the middleware."""
        client = client_for(
            manager, ledger_database, middleware=["cleanup"], middleware_options={"cleanup": {"colour": "red"}}
        )
        with pytest.raises(MiddlewareError, match="cleanup"):
            client.send("Hello", provider="openai", model=MODEL)

    def test_unknown_provider_names_installed(self, manager: PluginManager, ledger_database: str) -> None:
        """A provider without a driver names the installed ones and the package to install."""
        client = client_for(manager, ledger_database)
        expected = r"'mistral' \(installed: openai\).*COSTKIT_DISABLE_PLUGINS"
        with pytest.raises(costkit.ConfigurationError, match=expected):
            client.send("Hello", provider="mistral", model="large")

    def test_unpriced_model_fails_before_sending(self, manager: PluginManager, ledger_database: str) -> None:
        """With cost tracking and the raise policy, a model without a price is refused before any call."""
        seen: list[httpx.Request] = []
        client = client_for(manager, ledger_database, transport=replay_transport(route, requests=seen))
        with pytest.raises(costkit.PriceNotFoundError, match="openai/my-local-model"):
            client.send("Hello", provider="openai", model="my-local-model")
        assert seen == []


class TestEvents:
    def test_events_carry_ids(self, manager: PluginManager, ledger_database: str) -> None:
        """Request, response and cost events carry the request id, scopes and metadata."""
        client = client_for(manager, ledger_database)
        response = client.send(
            "Hello",
            provider="openai",
            model=MODEL,
            user_id="u1",
            project_id="p1",
            organization_id="o1",
            metadata={"ticket": "T-1"},
        )
        kinds = [event[0] for event in Recorder.events]
        assert kinds == ["sent", "generated", "cost"]
        for event in Recorder.events:
            request = event[1]
            assert request.request_id == response.request_id
            assert (request.user_id, request.project_id, request.organization_id) == ("u1", "p1", "o1")
            assert request.metadata == {"ticket": "T-1"}
        assert Recorder.events[2][2].total == response.total_cost

    def test_stream_events_after_end(self, manager: PluginManager, ledger_database: str) -> None:
        """For a stream, the response event comes when the stream ends, with the final usage."""
        client = client_for(manager, ledger_database)
        stream = client.stream("Hello", provider="openai", model=MODEL)
        for _ in stream:
            assert [event[0] for event in Recorder.events] == ["sent"]
        assert [event[0] for event in Recorder.events] == ["sent", "generated", "cost"]
        assert Recorder.events[1][2].usage == stream.response.usage


class TestThirdPartyMiddleware:
    def test_entry_point_middleware_usable_by_name(self, ledger_database: str, tmp_path: Path) -> None:
        """A middleware shipped in another distribution is found by entry point and used by name."""
        manager = PluginManager()
        if "audit" not in manager.middleware_classes():
            pytest.skip("the example package costkit-example-audit is not installed")
        log = tmp_path / "audit.jsonl"
        client = Client(
            database_url=ledger_database,
            plugins=manager,
            middleware_options={"audit": {"path": str(log)}},
            provider_options={"openai": {"api_key": "sk-test", "transport": replay_transport(route)}},
        )
        response = client.send("Hello", provider="openai", model=MODEL, middleware="audit")
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert [line["request_id"] for line in lines] == [response.request_id]
        assert lines[0]["cost"] == str(response.total_cost)


class TestCancellation:
    def test_sync_stream_closed_early_accounts(self, manager: PluginManager, ledger_database: str) -> None:
        """Closing a stream after one chunk ends the HTTP stream and still records what arrived."""
        client = client_for(
            manager,
            ledger_database,
            middleware=["cost-tracking", "cleanup"],
            transport=replay_transport(route, chunk_size=64),
        )
        with client.stream("Hello", provider="openai", model=MODEL) as stream:
            next(iter(stream))
        assert stream.response is not None
        assert stream.response.status == "closed"
        assert stream.response.usage is not None
        assert stream.response.usage.estimated is True
        assert Recorder.hooks == ["request", "response:closed"]
        record = client.ledger.get(stream.response.request_id)
        assert record is not None
        assert record.status == "closed"
        assert record.estimated is True

    def test_async_task_cancelled_mid_request(self, manager: PluginManager, ledger_database: str) -> None:
        """Cancelling a task during the provider call runs the middleware cleanup and records nothing."""
        started = asyncio.Event()

        async def slow(request: httpx.Request) -> httpx.Response:
            started.set()
            await asyncio.sleep(30)
            return httpx.Response(200, content=load_body(PLAIN_BODY))

        async def scenario() -> AsyncClient:
            client = AsyncClient(
                database_url=ledger_database,
                plugins=manager,
                middleware=["budget-enforcement", "cost-tracking", "cleanup"],
                provider_options={"openai": {"api_key": "sk-test", "transport": httpx.MockTransport(slow)}},
            )
            task = asyncio.create_task(client.send("Hello", provider="openai", model=MODEL))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return client

        client = asyncio.run(scenario())
        assert Recorder.hooks == ["request", "error:CancelledError"]
        assert client.ledger.records() == []

    def test_async_stream_cancelled_mid_stream(self, manager: PluginManager, ledger_database: str) -> None:
        """Cancelling a task mid-stream closes the HTTP stream and accounts for what arrived."""
        body = load_body(STREAM_BODY)
        first_chunk_read = asyncio.Event()

        class SlowStream(httpx.AsyncByteStream):
            async def __aiter__(self) -> Any:
                yield body[:200]
                first_chunk_read.set()
                await asyncio.sleep(30)
                yield body[200:]

        async def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=SlowStream())

        async def scenario() -> tuple[AsyncClient, Any]:
            client = AsyncClient(
                database_url=ledger_database,
                plugins=manager,
                middleware=["cost-tracking", "cleanup"],
                provider_options={"openai": {"api_key": "sk-test", "transport": httpx.MockTransport(handler)}},
            )
            stream = client.stream("Hello", provider="openai", model=MODEL)

            async def consume() -> None:
                async for _ in stream:
                    pass

            task = asyncio.create_task(consume())
            await first_chunk_read.wait()
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return client, stream

        client, stream = asyncio.run(scenario())
        assert stream.response is not None
        assert stream.response.status == "closed"
        assert Recorder.hooks == ["request", "response:closed"]
        assert [record.request_id for record in client.ledger.records()] == [stream.response.request_id]

    def test_stream_never_started_releases(self, manager: PluginManager, ledger_database: str) -> None:
        """A stream closed before its first chunk never reaches the provider and records nothing."""
        seen: list[httpx.Request] = []
        client = client_for(manager, ledger_database, transport=replay_transport(route, requests=seen))
        stream = client.stream("Hello", provider="openai", model=MODEL)
        stream.close()
        assert seen == []
        assert stream.response is None
