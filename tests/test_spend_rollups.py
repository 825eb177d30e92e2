"""Tests of the spend rollups that budget checks read instead of every ledger row."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import _budget_provider as fake

from costkit.budgets import BudgetStore
from costkit.db import forget_database, open_database
from costkit.db.schema import ROLLUP_MICROS


def rollup_totals(database: Any) -> dict[tuple[str, str], Decimal]:
    """Return the rollup spend per (scope, scope id)."""
    table = database.models.SpendRollup
    totals: dict[tuple[str, str], Decimal] = {}
    for row in table.select():
        key = (row.scope, row.scope_id)
        totals[key] = totals.get(key, Decimal(0)) + row.amount
    return totals


def ledger_totals(database: Any) -> dict[tuple[str, str], Decimal]:
    """Return the ledger spend per (scope, scope id), summed from the rows."""
    table = database.models.CostRecord
    totals: dict[tuple[str, str], Decimal] = {}
    for row in table.select():
        scopes = [
            ("global", ""),
            ("user", row.user_id),
            ("project", row.project_id),
            ("organization", row.organization_id),
        ]
        for scope, scope_id in scopes:
            if scope_id is not None:
                totals[(scope, scope_id)] = totals.get((scope, scope_id), Decimal(0)) + row.cost
    return totals


def send_mixed(client: Any) -> None:
    """Send requests for several users, projects and organisations, one of them twice by id."""
    client.send("Hi", provider="fake", model="priced", user_id="u1", project_id="p1")
    client.send("Hi", provider="fake", model="even", user_id="u2", organization_id="o1")
    client.send("Hi", provider="fake", model="priced", project_id="p1", organization_id="o1")
    client.send("Hi", provider="fake", model="priced")


def test_rollups_match_ledger(database_url: str) -> None:
    """Every scope's rollup spend equals the sum of its ledger rows."""
    client = fake.client(database_url)
    send_mixed(client)
    database = client.context.database
    assert rollup_totals(database) == ledger_totals(database)
    assert rollup_totals(database)[("global", "")] == client.ledger.total()


def test_rollups_skip_repeated_request(database_url: str) -> None:
    """A request id recorded twice adds to the rollups once."""
    client = fake.client(database_url)
    response = client.send("Hi", provider="fake", model="priced", user_id="u1")
    client.ledger.record(response.request, response, response.cost)
    database = client.context.database
    assert rollup_totals(database)[("user", "u1")] == response.total_cost


def test_rollups_follow_reprice(database_url: str) -> None:
    """Repricing a row moves its rollups by the difference."""
    client = fake.client(database_url)
    client.send("Hi", provider="fake", model="priced", user_id="u1")
    client.prices.set(fake.PRICES[0].__class__(provider="fake", model="priced", input="3", output="5"))
    result = client.ledger.reprice()
    database = client.context.database
    assert result.changed == 1
    assert rollup_totals(database) == ledger_totals(database)


def test_rollups_follow_journal_replay(database_url: str) -> None:
    """Rows replayed from the journal add to the rollups once."""
    client = fake.client(database_url)
    response = client.send("Hi", provider="fake", model="priced", user_id="u1", exclude_middleware="cost-tracking")
    from costkit.ledger import _row_from_response

    row = _row_from_response(response.request, response, response.cost)
    client.ledger.journal.append(row)
    client.ledger.journal.append(row)
    assert client.ledger.replay() == 2
    database = client.context.database
    assert rollup_totals(database)[("user", "u1")] == response.total_cost
    assert rollup_totals(database) == ledger_totals(database)


def test_migration_fills_rollups(database_url: str) -> None:
    """Opening a database of schema version 2 builds the rollups from its ledger rows."""
    client = fake.client(database_url)
    send_mixed(client)
    database = client.context.database
    expected = ledger_totals(database)
    database.models.SpendRollup.delete().execute()
    database.models.MetaValue.update(value=2).where(database.models.MetaValue.key == "schema_version").execute()
    forget_database(database_url)

    reopened = open_database(database_url)
    assert rollup_totals(reopened) == expected


def test_unaligned_window_reads_ledger(database_url: str) -> None:
    """A window that does not start on a quarter hour is summed from the ledger rows, to the microsecond."""
    client = fake.client(database_url)
    bucket = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    request, response, cost = _priced(client, "u1", bucket + timedelta(minutes=10))
    client.ledger.record(request, response, cost)
    store = BudgetStore(client.context)
    start = int(bucket.timestamp()) * 1_000_000
    five_minutes = 300_000_000
    now = start + 2 * ROLLUP_MICROS
    before, _ = store._sums("user", "u1", start, start + five_minutes, now)
    after, _ = store._sums("user", "u1", start + five_minutes, start + ROLLUP_MICROS, now)
    whole, _ = store._sums("user", "u1", start, start + ROLLUP_MICROS, now)
    assert before == Decimal(0)
    assert after == cost.total
    assert whole == cost.total


def test_window_spend_uses_buckets(database_url: str) -> None:
    """Spend in a day is the sum of that day's buckets and excludes the day before."""
    client = fake.client(database_url)
    now = datetime.now(timezone.utc)
    yesterday = now - timedelta(days=1)
    client.ledger.record(*_priced(client, "u1", yesterday))
    today = _priced(client, "u1", now)
    client.ledger.record(*today)
    client.budgets.set("user", "u1", daily="100")
    spent = client.budgets.usage("user", "u1")[0].spent
    assert spent == today[2].total


def _priced(client: Any, user_id: str, at: datetime) -> tuple[Any, Any, Any]:
    """Build a priced request, response and cost at ``at`` without sending anything."""
    import costkit

    request = costkit.Request(provider="fake", model="priced", messages="Hi", user_id=user_id, created_at=at)
    usage = costkit.Usage(input_tokens=100, output_tokens=10)
    response = costkit.Response(request=request, text="ok", usage=usage, model="priced")
    cost = client.context.chain.calculate("fake", "priced", usage)
    return request, response, cost
