"""Tests of the database wrapper: URLs, migrations and prepared statements."""

from __future__ import annotations

import pytest

from costkit.db import open_database


@pytest.mark.postgres
def test_prepared_statement_runs_once_per_connection(postgres_database: str) -> None:
    """A statement is prepared once per connection and prepared again after a reconnect."""
    database = open_database(postgres_database)
    sql = "SELECT %s::int + %s::int"
    first = database.prepared(sql)
    assert first == database.prepared(sql)
    assert first.startswith("EXECUTE costkit_")
    assert database.peewee.execute_sql(first, [2, 3]).fetchone() == (5,)

    database.peewee.close()
    again = database.prepared(sql)
    assert database.peewee.execute_sql(again, [4, 5]).fetchone() == (9,)


def test_sqlite_url_creates_folder(tmp_path: object) -> None:
    """A SQLite URL in a missing folder creates the folder and a migrated database."""
    database = open_database(f"sqlite:///{tmp_path}/nested/ledger.db")
    assert database.price_version() == 0
    assert database.path is not None
    assert database.path.exists()
