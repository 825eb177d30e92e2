"""Fixtures shared by the xAI plugin tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import costkit_xai
from costkit.plugin.manager import PluginManager

SENTINEL_KEY = "xai-test-sentinel-key-7d41b9"
"""A fake API key that tests search for in URLs, reprs, messages and logs."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's XAI_API_KEY and XAI_BASE_URL out of every test."""
    monkeypatch.delenv(costkit_xai.API_KEY_ENV, raising=False)
    monkeypatch.delenv(costkit_xai.BASE_URL_ENV, raising=False)


@pytest.fixture
def sentinel_key() -> str:
    """The fake API key every driver in these tests is built with."""
    return SENTINEL_KEY


@pytest.fixture
def make_driver() -> Callable[..., Any]:
    """Build an XAIDriver through the registered factory, with the sentinel key and no retries unless asked."""

    def build(transport: Any, **options: Any) -> Any:
        options.setdefault("api_key", SENTINEL_KEY)
        options.setdefault("max_retries", 0)
        return costkit_xai.create_driver(transport=transport, **options)

    return build


@pytest.fixture
def xai_manager() -> PluginManager:
    """A plugin manager with the built-ins and this plugin only."""
    manager = PluginManager(load_entry_points=False)
    manager.register(costkit_xai, name="xai")
    return manager
