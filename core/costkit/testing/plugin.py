"""The pytest plugin costkit ships: fixtures for costkit and for provider plugin authors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from costkit.plugin.manager import PluginManager
from costkit.testing._fixtures import FIXTURES_ENV, fixtures_dir

__all__ = ["ledger_database", "plugin_manager", "postgres_server", "recorded_payloads"]

REQUIRE_POSTGRES_ENV = "COSTKIT_REQUIRE_POSTGRES"
"""Set to 1 (as CI does) to fail, not skip, PostgreSQL tests when no server can be started."""


@pytest.fixture
def plugin_manager() -> Iterator[PluginManager]:
    """An isolated plugin manager: the built-ins only, whatever else is installed.

    Register the plugins a test needs with ``plugin_manager.register(module, name=...)``.
    """
    yield PluginManager(load_entry_points=False)


@pytest.fixture
def recorded_payloads() -> Path:
    """The folder of recorded provider bodies; skips the test where it is absent."""
    folder = fixtures_dir()
    if folder is None:
        pytest.skip(f"recorded provider payloads not found; set {FIXTURES_ENV} to their folder")
    return folder


@pytest.fixture
def ledger_database(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite ledger in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this test session (see :mod:`costkit.testing.postgres`).

    Skips PostgreSQL tests with a reason when no server can be started, unless
    ``COSTKIT_REQUIRE_POSTGRES=1``, which makes them fail instead.
    """
    from costkit.testing.postgres import running_postgres

    try:
        context = running_postgres()
        url = context.__enter__()
    except Exception as exc:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            raise
        pytest.skip(f"could not start PostgreSQL: {exc}")
    if url is None:
        context.__exit__(None, None, None)
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail("PostgreSQL is required (COSTKIT_REQUIRE_POSTGRES=1) but initdb/pg_ctl were not found")
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl); install it to run these tests")
    try:
        yield url
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def postgres_database(postgres_server: str) -> str:
    """The URL of a new, empty database on the session's PostgreSQL server."""
    from costkit.testing.postgres import create_database

    return create_database(postgres_server)
