"""Fixtures shared by the Gemini plugin tests."""

from __future__ import annotations

import pytest

SENTINEL_KEY = "gemini-test-sentinel-key-5c2e81"
"""A fake API key that tests search for in URLs, reprs, messages and logs."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's Gemini key and base URL out of every test."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sentinel_key() -> str:
    """The fake API key the drivers in these tests are built with."""
    return SENTINEL_KEY
