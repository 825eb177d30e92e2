"""Tests of the module-level API: extract_usage, calculate_cost and Response.cost without a client."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import costkit
from costkit import Request, Usage
from costkit.testing import fixtures_dir, load_body, replay_transport

pytestmark = pytest.mark.skipif(fixtures_dir() is None, reason="recorded provider payloads not found")


def test_extract_usage_from_saved_body() -> None:
    """extract_usage reads a saved body with the installed provider plugin."""
    usage = costkit.extract_usage("openai", load_body("openai-chat-completions-cached-01.json"))
    assert usage == Usage(input_tokens=1149, cached_input_tokens=1024, output_tokens=353)


def test_extract_usage_detects_streams() -> None:
    """A saved SSE body is recognised as a stream."""
    usage = costkit.extract_usage("openai", load_body("openai-chat-completions-stream-text-usage-01.sse"))
    assert usage is not None
    assert usage.output_tokens > 0


def test_extract_usage_none_without_usage() -> None:
    """A stream recorded without include_usage carries no usage: None, never zero."""
    assert costkit.extract_usage("openai", load_body("openai-chat-completions-stream-no-usage-01.sse")) is None


def test_extract_usage_unknown_provider() -> None:
    """An unknown provider names the installed ones and the package to install."""
    with pytest.raises(costkit.ConfigurationError, match="'mistral'.*COSTKIT_DISABLE_PLUGINS"):
        costkit.extract_usage("mistral", {})


def test_calculate_cost_through_installed_tables() -> None:
    """calculate_cost prices a dated OpenAI snapshot from the plugin table, exactly."""
    cost = costkit.calculate_cost("openai", "gpt-4o-mini-2024-07-18", Usage(input_tokens=1_000_000))
    assert cost.total == cost.price.input  # type: ignore[union-attr]
    assert cost.total > 0
    assert cost.source is not None


def test_response_cost_without_client_or_ledger(tmp_path: Path) -> None:
    """A response from a bare driver prices itself on demand, creating no ledger file."""
    import costkit_openai

    driver = costkit_openai._driver_factory(
        api_key="sk-test", transport=replay_transport(lambda request: "openai-chat-completions-cached-01.json")
    )
    response = driver.send(Request(provider="openai", model="gpt-4o-mini", messages="Hello"))
    expected = costkit.calculate_cost("openai", response.model, response.usage)  # type: ignore[arg-type]
    assert response.total_cost == expected.total
    assert response.cost.total > Decimal(0)
    assert not (tmp_path / "data-home").exists()


def test_client_without_middleware_creates_no_file(tmp_path: Path) -> None:
    """A client with middleware disabled prices responses without creating the default ledger."""
    client = costkit.Client(
        disable_middleware=True,
        provider_options={
            "openai": {
                "api_key": "sk-test",
                "transport": replay_transport(lambda request: "openai-chat-completions-cached-01.json"),
            }
        },
    )
    response = client.send("Hello", provider="openai", model="gpt-4o-mini")
    assert response.total_cost > 0
    assert not (tmp_path / "data-home").exists()
    client.prices.list()
    assert (tmp_path / "data-home").exists()
