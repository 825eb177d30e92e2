"""Tests of persistent conversations and their running cost, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

import costkit
import costkit_gemini
import costkit_openai
from costkit import Client, Message
from costkit.plugin.manager import PluginManager
from costkit.testing import fixtures_dir, replay_transport

pytestmark = pytest.mark.skipif(fixtures_dir() is None, reason="recorded provider payloads not found")

OPENAI_PLAIN = "openai-chat-completions-cached-01.json"
OPENAI_STREAM = "openai-chat-completions-stream-text-usage-01.sse"
GEMINI_PLAIN = "gemini-generateContent-int-enums-01.json"


def openai_route(request: httpx.Request) -> str:
    return OPENAI_STREAM if json.loads(request.content).get("stream") else OPENAI_PLAIN


@pytest.fixture
def manager(plugin_manager: PluginManager) -> PluginManager:
    plugin_manager.register(costkit_openai, name="openai")
    plugin_manager.register(costkit_gemini, name="gemini")
    return plugin_manager


def make_client(
    manager: PluginManager, database_url: str, openai_transport: httpx.BaseTransport | None = None
) -> Client:
    return Client(
        database_url=database_url,
        plugins=manager,
        provider_options={
            "openai": {"api_key": "sk-test", "transport": openai_transport or replay_transport(openai_route)},
            "gemini": {"api_key": "g-test", "transport": replay_transport(lambda request: GEMINI_PLAIN)},
        },
    )


def test_turns_across_providers_resume(manager: PluginManager, database_url: str) -> None:
    """A conversation over two providers resumes in a second client with its history and exact cost."""
    client = make_client(manager, database_url)
    conversation = client.conversation().title("Trip").system("Be brief.").user("u1")
    first = conversation.provider("openai").model("gpt-4o-mini").message("Hello").send()
    second = conversation.provider("gemini").model("gemini-2.0-flash").message("And now?").send()
    assert first.request.conversation_id == conversation.id
    assert second.provider == "gemini"
    assert conversation.message_count == 4
    assert conversation.total_cost == first.total_cost + second.total_cost

    resumed = make_client(manager, database_url).conversation(conversation.id)
    assert resumed.messages == (
        Message("user", "Hello"),
        Message("assistant", first.text),
        Message("user", "And now?"),
        Message("assistant", second.text),
    )
    assert resumed.message_count == 4
    assert resumed.total_cost == conversation.total_cost

    third = resumed.message("Thanks").send()
    assert third.provider == "gemini"
    sent = [message.content for message in third.request.messages]
    assert sent == ["Be brief.", "Hello", first.text, "And now?", second.text, "Thanks"]

    ledger_rows = client.ledger.records(conversation_id=conversation.id)
    assert len(ledger_rows) == 3
    assert sum((row.cost for row in ledger_rows), Decimal(0)) == resumed.total_cost
    report = {row.group: row for row in client.ledger.report("conversation")}
    assert report[conversation.id].cost == resumed.total_cost
    assert report[conversation.id].requests == 3

    stored = client.conversations.get(conversation.id)
    assert stored.title == "Trip"
    assert stored.provider == "gemini"
    assert [message.cost for message in stored.messages if message.role == "assistant"] == [
        first.total_cost,
        second.total_cost,
        third.total_cost,
    ]


def test_failed_turn_leaves_nothing(manager: PluginManager, database_url: str) -> None:
    """A turn that fails stores no message, and the pending message can be sent again."""

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})

    client = make_client(manager, database_url, openai_transport=httpx.MockTransport(failing))
    conversation = client.conversation().provider("openai").model("gpt-4o-mini").message("Hello")
    client.context.driver("openai").max_retries = 0
    with pytest.raises(costkit.ServerError):
        conversation.send()
    assert conversation.message_count == 0
    with pytest.raises(costkit.ConfigurationError, match="no conversation"):
        client.conversations.get(conversation.id)
    assert client.ledger.records() == []


def test_stream_turn_closed_early_is_stored(manager: PluginManager, database_url: str) -> None:
    """A streamed turn closed early is stored with the text received and its estimated cost."""
    client = make_client(manager, database_url, openai_transport=replay_transport(openai_route, chunk_size=64))
    conversation = client.conversation().provider("openai").model("gpt-4o-mini")
    stream = conversation.message("Tell me a story").stream()
    with stream:
        next(iter(stream))
    assert stream.response is not None
    assert stream.response.status == "closed"
    stored = client.conversations.get(conversation.id)
    assert [message.role for message in stored.messages] == ["user", "assistant"]
    assert stored.messages[1].content == stream.response.text
    assert stored.total_cost == stream.response.total_cost
    assert client.ledger.records(conversation_id=conversation.id)[0].status == "closed"


def test_complete_stream_turn_is_stored(manager: PluginManager, database_url: str) -> None:
    """A streamed turn that ends normally is stored when it ends."""
    client = make_client(manager, database_url)
    conversation = client.conversation().provider("openai").model("gpt-4o-mini").message("Hi")
    stream = conversation.stream()
    text = "".join(chunk.text for chunk in stream)
    assert conversation.messages == (Message("user", "Hi"), Message("assistant", text))
    assert conversation.total_cost == stream.response.total_cost


def test_unknown_conversation_id(manager: PluginManager, database_url: str) -> None:
    """Resuming an id that was never stored is an error naming it."""
    with pytest.raises(costkit.ConfigurationError, match="'missing-id'"):
        make_client(manager, database_url).conversation("missing-id")


def test_send_without_message(manager: PluginManager, database_url: str) -> None:
    """Sending a turn with no new message is an error saying what to add."""
    conversation = make_client(manager, database_url).conversation().provider("openai").model("gpt-4o-mini")
    with pytest.raises(costkit.ConfigurationError, match=r"\.message\(text\)"):
        conversation.send()
