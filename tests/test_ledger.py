"""The ledger on real SQLite and PostgreSQL: exact sums, idempotence, reports, repricing, the journal."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import _budget_provider as fake
import pytest

import costkit
from costkit.db.schema import MODELS
from costkit.errors import ConfigurationError
from costkit.ledger import GROUPS, to_micros

SENTINEL_KEY = "sk-sentinel-5f2c0a9e-never-store"
OTHER_PRICE = costkit.ModelPrice(provider="other", model="m-1", input="3", output="6", source="other table")


def send(client: Any, *, model: str = "priced", **fields: Any) -> costkit.Response:
    """Send "hi" to the fake provider."""
    response: costkit.Response = client.send("hi", provider=fake.PROVIDER, model=model, **fields)
    return response


def price_of(provider: str, model: str) -> costkit.ModelPrice:
    """Return the test price of a model: the fake provider's table, or OTHER_PRICE."""
    if provider == OTHER_PRICE.provider:
        return OTHER_PRICE
    return next(price for price in fake.PRICES if price.model == model)


def record(
    ledger: Any,
    created_at: datetime,
    *,
    provider: str = fake.PROVIDER,
    model: str = "priced",
    input_tokens: int = 1000,
    output_tokens: int = 0,
    **fields: Any,
) -> Decimal:
    """Write a ledger row for a request made at ``created_at``; return its cost."""
    request = costkit.Request(provider=provider, model=model, messages="hi", created_at=created_at, **fields)
    usage = costkit.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    response = costkit.Response(request=request, text="done", usage=usage, model=model)
    cost = price_of(provider, model).calculate(usage)
    assert ledger.record(request, response, cost)
    total: Decimal = cost.total
    return total


def tiny_row(index: int) -> dict[str, Any]:
    """A ledger row as Ledger._insert takes it, costing 0.000000075 USD."""
    return {
        "request_id": f"tiny-{index:06d}",
        "created_at": to_micros(datetime(2026, 4, 1, tzinfo=timezone.utc)) + index,
        "provider": fake.PROVIDER,
        "model": "priced",
        "requested_model": "priced",
        "input_tokens": 75,
        "cost": "0.000000075",
    }


# --- Totals and idempotence ----------------------------------------------------------------


def test_totals_match_response_costs(database_url: str) -> None:
    """The ledger total, the report and the rows all equal the sum of the responses' costs."""
    client = fake.client(database_url)
    usages = [{"input": 10, "output": 20}, {"input": 333, "output": 7}, {"input": 1, "output": 99_999}]
    responses = [send(client, options={"reply_usage": usage}) for usage in usages]
    responses.append(send(client, model="even", options={"reply_usage": {"input": 12_345, "output": 6789}}))
    stream = client.stream("hi", provider=fake.PROVIDER, model="priced", options={"reply_usage": usages[1]})
    for _chunk in stream:
        pass
    responses.append(stream.response)

    expected = sum((response.total_cost for response in responses), Decimal(0))
    report = client.ledger.report("model")

    # priced (1 and 2 USD per million): 0.00005 + 0.000347 + 0.199999, even (10 and 10): 0.19134,
    # and the stream with the second usage again: 0.000347.
    assert expected == Decimal("0.392083")
    assert client.ledger.total() == expected
    assert sum((row.cost for row in report), Decimal(0)) == expected
    assert sum(row.requests for row in report) == len(responses)
    assert sum((row.cost for row in client.ledger.records()), Decimal(0)) == expected


def test_record_idempotent(database_url: str) -> None:
    """Recording one request twice keeps one row and one cost."""
    client = fake.client(database_url)
    created_at = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)
    request = costkit.Request(provider=fake.PROVIDER, model="priced", messages="hi", created_at=created_at)
    usage = costkit.Usage(input_tokens=500, output_tokens=500)
    response = costkit.Response(request=request, text="done", usage=usage, model="priced")
    cost = price_of(fake.PROVIDER, "priced").calculate(usage)

    first = client.ledger.record(request, response, cost)
    second = client.ledger.record(request, response, cost)

    assert first
    assert second
    assert len(client.ledger.records()) == 1
    assert client.ledger.total() == Decimal("0.0015")


def test_send_same_request_id_once(database_url: str) -> None:
    """Two sends with one request id reach the provider twice but leave one ledger row."""
    server = fake.FakeServer()
    client = fake.client(database_url, server)
    client.budgets.set("user", "u1", daily="1")

    send(client, user_id="u1", request_id="fixed-id", max_output_tokens=100)
    send(client, user_id="u1", request_id="fixed-id", max_output_tokens=100)

    assert server.calls == 2
    assert [row.request_id for row in client.ledger.records()] == ["fixed-id"]
    assert client.context.database.models.Reservation.select().count() == 0


def test_tiny_costs_sum_exactly(database_url: str) -> None:
    """100,000 costs of 0.000000075 sum to exactly 0.0075 in the total and the report."""
    client = fake.client(database_url)
    count = 100_000
    batch = 10_000

    for start in range(0, count, batch):
        client.ledger._insert([tiny_row(index) for index in range(start, start + batch)])
    report = client.ledger.report("provider")

    assert client.ledger.total() == Decimal("0.000000075") * count
    assert client.ledger.total() == Decimal("0.0075")
    assert len(report) == 1
    assert report[0].requests == count
    assert report[0].cost == Decimal("0.0075")
    assert report[0].input_tokens == 75 * count


# --- Reports -------------------------------------------------------------------------------

DATASET = (
    # created_at (UTC), provider, model, input tokens, user, project, organisation, conversation
    (datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc), "fake", "priced", 100, "alice", "p1", "o1", "c0"),
    (datetime(2026, 1, 30, 10, 0, tzinfo=timezone.utc), "fake", "priced", 1000, "alice", "p1", "o1", "c1"),
    (datetime(2026, 2, 2, 9, 0, tzinfo=timezone.utc), "fake", "even", 2000, "bob", "p1", "o1", "c2"),
    (datetime(2026, 2, 3, 23, 59, 59, tzinfo=timezone.utc), "other", "m-1", 3000, "alice", "p2", "o2", "c1"),
    (datetime(2026, 2, 28, 23, 59, 59, tzinfo=timezone.utc), "fake", "even", 4000, None, "p2", None, None),
    (datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc), "fake", "priced", 5000, "carol", "p3", "o3", "c3"),
)
SINCE = date(2026, 1, 1)
UNTIL = datetime(2026, 3, 1, tzinfo=timezone.utc)


def load_dataset(ledger: Any) -> list[dict[str, Any]]:
    """Record DATASET; return each row with its cost and group keys."""
    rows = []
    for created_at, provider, model, tokens, user, project, organization, conversation in DATASET:
        cost = record(
            ledger,
            created_at,
            provider=provider,
            model=model,
            input_tokens=tokens,
            user_id=user,
            project_id=project,
            organization_id=organization,
            conversation_id=conversation,
        )
        day = created_at.date()
        rows.append(
            {
                "created_at": created_at,
                "cost": cost,
                "input_tokens": tokens,
                "provider": provider,
                "model": model,
                "user": user,
                "project": project,
                "organization": organization,
                "conversation": conversation,
                "day": day.isoformat(),
                "week": (day - timedelta(days=day.weekday())).isoformat(),
                "month": day.replace(day=1).isoformat(),
            }
        )
    return rows


def expected_groups(rows: list[dict[str, Any]], group: str) -> dict[str | None, tuple[int, int, Decimal]]:
    """Group the rows made in [SINCE, UNTIL) in Python: requests, input tokens and cost per group."""
    groups: dict[str | None, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    since = datetime(SINCE.year, SINCE.month, SINCE.day, tzinfo=timezone.utc)
    for row in rows:
        if not since <= row["created_at"] < UNTIL:
            continue
        totals = groups[row[group]]
        totals[0] += 1
        totals[1] += row["input_tokens"]
        totals[2] += row["cost"]
    return {key: (value[0], value[1], value[2]) for key, value in groups.items()}


def test_report_every_group(database_url: str) -> None:
    """A report by each group sums requests, tokens and exact cost of the rows in [since, until)."""
    client = fake.client(database_url)
    rows = load_dataset(client.ledger)

    for group in GROUPS:
        report = client.ledger.report(group, since=SINCE, until=UNTIL)
        found = {row.group: (row.requests, row.input_tokens, row.cost) for row in report}
        assert found == expected_groups(rows, group), group


def test_report_group_aliases(database_url: str) -> None:
    """The aliases organisation and user_id group like organization and user."""
    client = fake.client(database_url)
    load_dataset(client.ledger)

    assert client.ledger.report("organisation") == client.ledger.report("organization")
    assert client.ledger.report("user_id") == client.ledger.report("user")


def test_report_unknown_group_rejected(database_url: str) -> None:
    """An unknown group is a ConfigurationError that lists the valid ones."""
    client = fake.client(database_url)

    with pytest.raises(ConfigurationError, match="choose one of provider, model"):
        client.ledger.report("colour")


def test_report_sorted_by_cost(database_url: str) -> None:
    """Reports by a column list the highest cost first."""
    client = fake.client(database_url)
    load_dataset(client.ledger)

    costs = [row.cost for row in client.ledger.report("user")]

    assert costs == sorted(costs, reverse=True)


def test_trend_periods_oldest_first(database_url: str) -> None:
    """A trend by day, week or month lists each period's spend, oldest first."""
    client = fake.client(database_url)
    rows = load_dataset(client.ledger)

    days = client.ledger.trend("day", since=SINCE, until=UNTIL)
    weeks = client.ledger.trend("week", since=SINCE, until=UNTIL)
    months = client.ledger.trend("month")

    assert [row.group for row in days] == ["2026-01-30", "2026-02-02", "2026-02-03", "2026-02-28"]
    assert [row.group for row in weeks] == ["2026-01-26", "2026-02-02", "2026-02-23"]
    assert weeks[1].requests == 2
    assert weeks[1].cost == rows[2]["cost"] + rows[3]["cost"]
    assert [row.group for row in months] == ["2025-12-01", "2026-01-01", "2026-02-01", "2026-03-01"]
    assert months[2].requests == 3
    assert months[2].cost == rows[2]["cost"] + rows[3]["cost"] + rows[4]["cost"]


def test_trend_unknown_period_rejected(database_url: str) -> None:
    """A trend period other than day, week or month is a ConfigurationError."""
    client = fake.client(database_url)

    with pytest.raises(ConfigurationError, match="'day', 'week' or 'month'"):
        client.ledger.trend("provider")


# --- Repricing -----------------------------------------------------------------------------


def test_reprice_keeps_previous_cost(database_url: str) -> None:
    """Repricing with a new database price keeps the previous cost and price source on each row."""
    client = fake.client(database_url)
    first = send(client, options={"reply_usage": {"input": 1000, "output": 1000}})
    second = send(client, options={"reply_usage": {"input": 10, "output": 20}})
    client.prices.set(costkit.ModelPrice(provider=fake.PROVIDER, model="priced", input="2", output="4"))

    result = client.ledger.reprice()
    repriced = client.ledger.get(first.request_id)

    assert result.examined == 2
    assert result.changed == 2
    assert result.previous_total == first.total_cost + second.total_cost
    assert result.new_total == 2 * result.previous_total
    assert repriced is not None
    assert repriced.cost == Decimal("0.006")
    assert repriced.previous_cost == Decimal("0.003")
    assert repriced.price_source == "database"
    assert repriced.previous_price_source == fake.TABLE_NAME
    assert client.ledger.total() == result.new_total


def test_reprice_unchanged_rows_untouched(database_url: str) -> None:
    """Repricing with the same prices changes no row and leaves previous_cost empty."""
    client = fake.client(database_url)
    response = send(client)

    result = client.ledger.reprice()
    row = client.ledger.get(response.request_id)

    assert result.changed == 0
    assert row is not None
    assert row.previous_cost is None
    assert row.cost == response.total_cost


def test_reprice_keeps_cost_without_price(database_url: str) -> None:
    """A row whose model no longer has a price keeps its cost, even with the 'warn' price policy."""
    client = fake.client(database_url, price_policy="warn")
    retired = costkit.ModelPrice(provider=fake.PROVIDER, model="retired", input="5", source="old table")
    request = costkit.Request(provider=fake.PROVIDER, model="retired", messages="hi")
    usage = costkit.Usage(input_tokens=1000)
    response = costkit.Response(request=request, text="done", usage=usage, model="retired")
    client.ledger.record(request, response, retired.calculate(usage))

    result = client.ledger.reprice()
    row = client.ledger.get(request.request_id)

    assert result.changed == 0
    assert result.new_total == Decimal("0.005")
    assert row is not None
    assert row.cost == Decimal("0.005")
    assert row.price_source == "old table"


def test_reprice_falls_back_to_requested_model(database_url: str) -> None:
    """A row whose response model has no price is repriced with the requested model's price."""
    client = fake.client(database_url)
    request = costkit.Request(provider=fake.PROVIDER, model="priced", messages="hi")
    usage = costkit.Usage(input_tokens=1000)
    response = costkit.Response(request=request, text="done", usage=usage, model="unlisted-variant")
    client.ledger.record(request, response, price_of(fake.PROVIDER, "priced").calculate(usage))
    client.prices.set(costkit.ModelPrice(provider=fake.PROVIDER, model="priced", input="3", output="3"))

    result = client.ledger.reprice()
    row = client.ledger.get(request.request_id)

    assert result.changed == 1
    assert row is not None
    assert row.model == "unlisted-variant"
    assert row.cost == Decimal("0.003")


# --- Journal -------------------------------------------------------------------------------


def test_record_survives_unreplayable_journal(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A journal row that cannot be written does not fail later records; it stays for replay."""
    client = fake.client(database_url)
    journal = client.ledger.journal
    journal.append({"request_id": "broken", "cost": "0"})  # no provider, model or time: NOT NULL fails

    with caplog.at_level(logging.WARNING, logger="costkit.ledger"):
        response = send(client)

    assert client.ledger.get(response.request_id) is not None
    assert journal.pending()
    assert "Could not replay the ledger journal" in caplog.text


@pytest.mark.postgres
def test_outage_journals_then_replays(caplog: pytest.LogCaptureFixture) -> None:
    """Rows sent while PostgreSQL is down go to the journal and reach the ledger once it is back."""
    from costkit.testing.postgres import PostgresServer, create_database, find_postgres_bin

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl); install it to run this test")
    database = PostgresServer(bin_dir)
    try:
        database.start()
        url = create_database(database.url)
        server = fake.FakeServer()
        client = fake.client(url, server, budget={"database_error_policy": "allow"})
        client.budgets.set("user", "u1", daily="10")
        sent = [send(client, user_id="u1", max_output_tokens=100) for _ in range(2)]

        database.stop()
        with caplog.at_level(logging.WARNING):
            during = [send(client, user_id="u1", max_output_tokens=100) for _ in range(3)]
        journal_lines = client.ledger.journal.path.read_text().splitlines()

        database.start()
        after = send(client, user_id="u1", max_output_tokens=100)
        request_ids = sorted(response.request_id for response in [*sent, *during, after])
        recorded = sorted(row.request_id for row in client.ledger.records())
        reservations = client.context.database.models.Reservation.select().count()
    finally:
        database.remove()

    assert server.calls == 6
    assert all(response.text == "done" for response in during)
    assert sorted(json.loads(line)["request_id"] for line in journal_lines) == sorted(
        response.request_id for response in during
    )
    assert "kept it in the journal" in caplog.text
    assert recorded == request_ids
    assert not client.ledger.journal.pending()
    assert reservations == 0


# --- Secrets -------------------------------------------------------------------------------


def dump_tables(client: Any) -> str:
    """Return the text of every row of every costkit table."""
    database = client.context.database
    lines = []
    for model in MODELS:
        bound = getattr(database.models, model.__name__)
        lines += [repr(row) for row in bound.select().dicts()]
    return "\n".join(lines)


def test_api_key_never_stored(database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An API key passed in provider_options reaches the provider's header but no table, log or URL."""
    server = fake.FakeServer()
    client = fake.client(database_url, server, api_key=SENTINEL_KEY)
    client.budgets.set("user", "u1", daily="1")

    with caplog.at_level(logging.DEBUG):
        response = send(client, user_id="u1", max_output_tokens=100, metadata={"purpose": "test"})
        stream = client.stream("hi", provider=fake.PROVIDER, model="priced", user_id="u1")
        next(stream)
        stream.close()
        conversation = client.conversation().provider(fake.PROVIDER).model("priced").user("u1")
        conversation.message("hello").send()
    dump = dump_tables(client)
    files = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())

    assert len(dump.splitlines()) > 5
    assert response.request_id in dump
    assert server.headers[0]["authorization"] == f"Bearer {SENTINEL_KEY}"
    assert SENTINEL_KEY not in dump
    assert SENTINEL_KEY.encode() not in files
    assert all(SENTINEL_KEY not in url for url in server.urls)
    assert SENTINEL_KEY not in caplog.text
    assert SENTINEL_KEY not in repr(client.context.driver(fake.PROVIDER))
