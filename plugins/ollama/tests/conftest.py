"""Fixtures shared by the Ollama plugin tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import costkit_ollama
from costkit.plugin.manager import PluginManager


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's OLLAMA_HOST and OLLAMA_API_KEY out of every test."""
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


@pytest.fixture
def make_driver() -> Callable[..., Any]:
    """Build an OllamaDriver through the registered factory, without retries unless asked."""

    def build(transport: Any, **options: Any) -> Any:
        options.setdefault("max_retries", 0)
        return costkit_ollama.create_driver(transport=transport, **options)

    return build


@pytest.fixture
def ollama_manager() -> PluginManager:
    """A plugin manager with the built-ins and this plugin only."""
    manager = PluginManager(load_entry_points=False)
    manager.register(costkit_ollama, name="ollama")
    return manager
