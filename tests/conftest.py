"""Shared fixtures: isolation from the developer's environment, and both ledger databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from costkit._chain import reset_default_chain
from costkit.plugin.manager import reset_plugin_manager

PROVIDER_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "XAI_API_KEY",
    "XAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GEMINI_BASE_URL",
    "OLLAMA_HOST",
    "COSTKIT_DATABASE_URL",
    "COSTKIT_CONFIG",
    "COSTKIT_MIDDLEWARE",
    "COSTKIT_PRICE_POLICY",
    "COSTKIT_DISABLE_PLUGINS",
)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep every test away from the developer's keys, config files and ledger."""
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.chdir(tmp_path)
    reset_default_chain()
    yield
    reset_default_chain()
    reset_plugin_manager()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty ledger database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    url: str = request.getfixturevalue("postgres_database")
    return url
