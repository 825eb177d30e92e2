"""Budgets on real SQLite and PostgreSQL: reservations, windows, alerts and policies."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import _budget_provider as fake
import _budget_worker
import attrs
import pytest

import costkit
from costkit._money import format_amount
from costkit.budgets import window_bounds

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
HAVANA = ZoneInfo("America/Havana")
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
PROMPT_TOKENS = 34
"""The upper bound budget-enforcement reserves for the prompt "hi": 2 bytes plus two 16-token allowances."""


class Listener:
    """A plugin that keeps the budget events it observes."""

    def __init__(self) -> None:
        self.reached: list[costkit.BudgetThresholdReached] = []
        self.exceeded: list[costkit.BudgetExceeded] = []

    @costkit.hookimpl
    def costkit_budget_threshold_reached(self, event: costkit.BudgetThresholdReached) -> None:
        self.reached.append(event)

    @costkit.hookimpl
    def costkit_budget_exceeded(self, event: costkit.BudgetExceeded) -> None:
        self.exceeded.append(event)


def send(client: Any, *, model: str = "priced", user_id: str | None = "u1", **fields: Any) -> costkit.Response:
    """Send "hi" to the fake provider."""
    response: costkit.Response = client.send("hi", provider=fake.PROVIDER, model=model, user_id=user_id, **fields)
    return response


def send_even(client: Any, cost: str, **fields: Any) -> costkit.Response:
    """Send to the ``even`` model (10 USD per million tokens) a request whose estimate and cost are ``cost``."""
    output = int(Decimal(cost).scaleb(5)) - PROMPT_TOKENS
    usage = {"input": PROMPT_TOKENS, "output": output}
    return send(client, model="even", max_output_tokens=output, options={"reply_usage": usage}, **fields)


def record_at(
    client: Any,
    created_at: datetime,
    *,
    input_tokens: int = 1000,
    output_tokens: int = 2000,
    user_id: str = "u1",
) -> Decimal:
    """Write a ledger row for a ``priced`` request made at ``created_at``; return its cost."""
    request = costkit.Request(
        provider=fake.PROVIDER, model="priced", messages="hi", user_id=user_id, created_at=created_at
    )
    usage = costkit.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    response = costkit.Response(request=request, text="done", usage=usage, model="priced")
    cost = client.context.chain.calculate(fake.PROVIDER, "priced", usage, at=created_at)
    assert client.ledger.record(request, response, cost)
    total: Decimal = cost.total
    return total


def reservation_count(client: Any) -> int:
    """Count every reservation row, expired or not."""
    count: int = client.context.database.models.Reservation.select().count()
    return count


def usage_of(client: Any, window: str, *, at: datetime | None = None, scope_id: str = "u1") -> Any:
    """Return the BudgetUsage of one window of a user."""
    found = [item for item in client.budgets.usage("user", scope_id, at=at) if item.budget.window == window]
    assert len(found) == 1
    return found[0]


def micros(moment: datetime) -> int:
    """Microseconds since the epoch."""
    return int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))


# --- Concurrency ---------------------------------------------------------------------------


def test_race_processes_never_overspend(database_url: str) -> None:
    """Four processes racing for one daily budget spend it to the last estimate that fits, never more."""
    limit = Decimal("0.1")
    max_output_tokens = 5000
    reply_usage = {"input": 20, "output": 1500}
    estimate = fake.estimate("hi", max_output_tokens, input_rate="1", output_rate="2")
    cost = (20 * Decimal(1) + 1500 * Decimal(2)).scaleb(-6)
    client = fake.client(database_url)
    client.budgets.set("user", "racer", daily=limit)

    processes = 4
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_budget_worker.send_until_refused,
            args=(database_url, "racer", max_output_tokens, reply_usage, start, results),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()

    # Each admission leaves room for the settled spend of the others plus its own estimate,
    # so exactly floor((limit - estimate) / cost) + 1 requests fit.
    expected_requests = int((limit - estimate) // cost) + 1
    spent = usage_of(client, "daily", scope_id="racer").spent
    assert [outcome.get("error") for outcome in outcomes] == [None] * processes
    assert [worker.exitcode for worker in workers] == [0] * processes
    assert all(outcome["final"] is not None for outcome in outcomes)
    assert all(outcome["refused"] >= 1 for outcome in outcomes)
    assert sum(outcome["sent"] for outcome in outcomes) == expected_requests
    assert spent <= limit
    assert limit - spent < estimate
    assert spent == expected_requests * cost
    assert sum(Decimal(outcome["cost"]) for outcome in outcomes) == spent
    assert len(client.ledger.records(user_id="racer")) == expected_requests
    assert reservation_count(client) == 0


# --- Exact money ---------------------------------------------------------------------------


def test_exact_money_fills_budget(database_url: str) -> None:
    """Requests costing 0.10 and 0.70 fill a 0.80 budget exactly, and a third is rejected."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.80")

    first = send_even(client, "0.10")
    second = send_even(client, "0.70")
    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, model="even", max_output_tokens=1)

    assert first.total_cost == Decimal("0.10")
    assert second.total_cost == Decimal("0.70")
    assert usage_of(client, "daily").spent == Decimal("0.80")
    assert usage_of(client, "daily").remaining == 0
    assert client.ledger.total() == Decimal("0.80")
    assert refused.value.spent == Decimal("0.80")
    assert refused.value.estimate == Decimal("0.00035")
    assert reservation_count(client) == 0


# --- Windows -------------------------------------------------------------------------------


def test_window_bounds_daily_los_angeles() -> None:
    """A Los Angeles day starts at local midnight, which is 08:00 UTC in winter."""
    at = datetime(2026, 1, 15, 7, 59, 59, tzinfo=timezone.utc)  # 23:59:59 on 14 January in LA

    start, end = window_bounds("daily", "America/Los_Angeles", at)

    assert start == micros(datetime(2026, 1, 14, 8, tzinfo=timezone.utc))
    assert end == micros(datetime(2026, 1, 15, 8, tzinfo=timezone.utc))


def test_window_bounds_daylight_saving_day() -> None:
    """The day clocks spring forward in Los Angeles lasts 23 hours."""
    start, end = window_bounds("daily", "America/Los_Angeles", datetime(2026, 3, 8, 12, tzinfo=LOS_ANGELES))

    assert start == micros(datetime(2026, 3, 8, 8, tzinfo=timezone.utc))
    assert end is not None
    assert start is not None
    assert end - start == 23 * HOUR_US


def test_window_bounds_missing_midnight() -> None:
    """Havana skips 00:00-01:00 on 8 March 2026, so that day starts at the jump and lasts 23 hours."""
    start, end = window_bounds("daily", "America/Havana", datetime(2026, 3, 8, 12, tzinfo=HAVANA))

    assert start == micros(datetime(2026, 3, 8, 5, tzinfo=timezone.utc))
    assert end == micros(datetime(2026, 3, 9, 4, tzinfo=timezone.utc))


def test_window_bounds_repeated_midnight_hour() -> None:
    """Havana repeats 00:00-01:00 on 1 November 2026, so that day starts at the first midnight and lasts 25 hours."""
    first_pass = window_bounds("daily", "America/Havana", datetime(2026, 11, 1, 4, 30, tzinfo=timezone.utc))
    second_pass = window_bounds("daily", "America/Havana", datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc))

    assert first_pass == second_pass
    assert first_pass[0] == micros(datetime(2026, 11, 1, 4, tzinfo=timezone.utc))
    assert first_pass[1] - first_pass[0] == 25 * HOUR_US  # type: ignore[operator]


def test_window_bounds_months_31_and_28_days() -> None:
    """Tokyo's January spans 31 days and February 2026 spans 28, from local midnight."""
    january = window_bounds("monthly", "Asia/Tokyo", datetime(2026, 1, 31, 23, 59, 59, tzinfo=TOKYO))
    february = window_bounds("monthly", "Asia/Tokyo", datetime(2026, 2, 1, 0, 0, tzinfo=TOKYO))

    assert january[0] == micros(datetime(2025, 12, 31, 15, tzinfo=timezone.utc))
    assert january[1] == february[0]
    assert january[1] - january[0] == 31 * DAY_US  # type: ignore[operator]
    assert february[1] - february[0] == 28 * DAY_US  # type: ignore[operator]
    assert february[1] == micros(datetime(2026, 3, 1, tzinfo=TOKYO))


def test_window_bounds_weekly_monday() -> None:
    """A week starts on Monday at local midnight: Sunday 7 June 2026 ends one, Monday 8 June starts the next."""
    sunday = window_bounds("weekly", "Europe/Berlin", datetime(2026, 6, 7, 23, 59, 59, tzinfo=BERLIN))
    monday = window_bounds("weekly", "Europe/Berlin", datetime(2026, 6, 8, 0, 0, 1, tzinfo=BERLIN))

    assert sunday[0] == micros(datetime(2026, 6, 1, tzinfo=BERLIN))
    assert sunday[1] == monday[0]
    assert monday[0] == micros(datetime(2026, 6, 8, tzinfo=BERLIN))
    assert monday[1] - monday[0] == 7 * DAY_US  # type: ignore[operator]


def test_window_bounds_naive_is_utc() -> None:
    """A naive moment is read as UTC, not as the machine's local time."""
    naive = window_bounds("daily", "UTC", datetime(2026, 5, 2, 23, 30))
    aware = window_bounds("daily", "UTC", datetime(2026, 5, 2, 23, 30, tzinfo=timezone.utc))

    assert naive == aware


def test_window_bounds_total_unbounded() -> None:
    """The total and per-request windows have no bounds."""
    assert window_bounds("total", "UTC", datetime.now(timezone.utc)) == (None, None)
    assert window_bounds("request", "UTC", datetime.now(timezone.utc)) == (None, None)


def test_usage_daily_local_midnight(database_url: str) -> None:
    """Spend one second before and after midnight in Los Angeles counts in two different days."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="1", timezone="America/Los_Angeles")
    before = record_at(client, datetime(2026, 3, 7, 23, 59, 59, tzinfo=LOS_ANGELES), input_tokens=1000)
    after = record_at(client, datetime(2026, 3, 8, 0, 0, 1, tzinfo=LOS_ANGELES), input_tokens=3000)

    saturday = usage_of(client, "daily", at=datetime(2026, 3, 7, 12, tzinfo=LOS_ANGELES))
    sunday = usage_of(client, "daily", at=datetime(2026, 3, 8, 12, tzinfo=LOS_ANGELES))

    assert saturday.spent == before
    assert sunday.spent == after
    assert sunday.window_start == datetime(2026, 3, 8, 8, tzinfo=timezone.utc)
    assert sunday.window_end == datetime(2026, 3, 9, 7, tzinfo=timezone.utc)


def test_usage_months_31_and_28_days(database_url: str) -> None:
    """Tokyo months split spend at local midnight of the 1st, whatever the month's length."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", monthly="1", timezone="Asia/Tokyo")
    january_last = record_at(client, datetime(2026, 1, 31, 23, 59, 59, tzinfo=TOKYO), input_tokens=1000)
    february_first = record_at(client, datetime(2026, 2, 1, 0, 0, tzinfo=TOKYO), input_tokens=2000)
    february_last = record_at(client, datetime(2026, 2, 28, 23, 59, 59, tzinfo=TOKYO), input_tokens=4000)
    march_first = record_at(client, datetime(2026, 3, 1, 0, 0, tzinfo=TOKYO), input_tokens=8000)

    january = usage_of(client, "monthly", at=datetime(2026, 1, 10, tzinfo=TOKYO))
    february = usage_of(client, "monthly", at=datetime(2026, 2, 14, tzinfo=TOKYO))
    march = usage_of(client, "monthly", at=datetime(2026, 3, 1, 12, tzinfo=TOKYO))

    assert january.spent == january_last
    assert february.spent == february_first + february_last
    assert march.spent == march_first
    assert february.window_end - february.window_start == timedelta(days=28)
    assert january.window_end - january.window_start == timedelta(days=31)


def test_usage_weekly_starts_monday(database_url: str) -> None:
    """Spend late on Sunday and early on Monday (Berlin time) falls in two weeks."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", weekly="1", timezone="Europe/Berlin")
    sunday = record_at(client, datetime(2026, 6, 7, 23, 59, 59, tzinfo=BERLIN), input_tokens=1000)
    monday = record_at(client, datetime(2026, 6, 8, 0, 0, 1, tzinfo=BERLIN), input_tokens=2000)

    first_week = usage_of(client, "weekly", at=datetime(2026, 6, 3, tzinfo=BERLIN))
    second_week = usage_of(client, "weekly", at=datetime(2026, 6, 12, tzinfo=BERLIN))

    assert first_week.spent == sunday
    assert second_week.spent == monday
    assert second_week.window_start == datetime(2026, 6, 8, tzinfo=BERLIN)


def test_reserve_checks_request_day(database_url: str) -> None:
    """A reservation is checked against the day of the request's time, where its ledger row will count."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.01", timezone="America/Los_Angeles")
    record_at(client, datetime(2026, 3, 7, 9, tzinfo=LOS_ANGELES), input_tokens=8000, output_tokens=0)
    late = costkit.Request(
        provider=fake.PROVIDER,
        model="priced",
        messages="hi",
        user_id="u1",
        created_at=datetime(2026, 3, 7, 23, 59, 59, tzinfo=LOS_ANGELES),
    )
    early = attrs.evolve(late, created_at=datetime(2026, 3, 8, 0, 0, 1, tzinfo=LOS_ANGELES))

    with pytest.raises(costkit.BudgetExceededError) as refused:
        client.budgets.reserve(late, Decimal("0.005"), ttl_seconds=60)
    budgets = client.budgets.reserve(early, Decimal("0.005"), ttl_seconds=60)

    assert refused.value.spent == Decimal("0.008")
    assert [budget.window for budget in budgets] == ["daily"]
    assert reservation_count(client) == 1


# --- Reservations --------------------------------------------------------------------------


def insert_reservation(client: Any, amount: str, *, expires_in_seconds: int, request_id: str = "ghost") -> None:
    """Insert a reservation for user u1 as a process that died would leave it."""
    now = time.time_ns() // 1000
    client.context.database.models.Reservation.insert(
        request_id=request_id,
        scope="user",
        scope_id="u1",
        amount=Decimal(amount),
        created_at=now - 3600 * 1_000_000,
        expires_at=now + expires_in_seconds * 1_000_000,
    ).execute()


def test_reservation_expired_released(database_url: str) -> None:
    """An expired reservation no longer counts, so a request it would block fits, and it is deleted."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.05")
    insert_reservation(client, "0.045", expires_in_seconds=-60)

    reserved_before = usage_of(client, "daily").reserved
    response = send(client, max_output_tokens=5000)

    assert reserved_before == 0
    assert response.total_cost == Decimal("0.005")
    assert reservation_count(client) == 0


def test_reservation_live_counts(database_url: str) -> None:
    """A reservation still within its time to live blocks a request that does not fit beside it."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.05")
    insert_reservation(client, "0.045", expires_in_seconds=600)

    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, max_output_tokens=5000)

    assert refused.value.reserved == Decimal("0.045")
    assert reservation_count(client) == 1


def test_reservation_ttl_expires(database_url: str) -> None:
    """A reservation never settled stops counting once its time to live passed."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.05")
    holder = costkit.Request(provider=fake.PROVIDER, model="priced", messages="hi", user_id="u1")
    client.budgets.reserve(holder, Decimal("0.045"), ttl_seconds=1)

    with pytest.raises(costkit.BudgetExceededError):
        send(client, max_output_tokens=5000)
    time.sleep(1.05)
    response = send(client, max_output_tokens=5000)

    assert response.total_cost == Decimal("0.005")
    assert usage_of(client, "daily").reserved == 0
    assert reservation_count(client) == 0


def test_cancelled_async_request_releases(database_url: str) -> None:
    """Cancelling an AsyncClient task while its request is in flight leaves no reservation."""

    async def scenario() -> tuple[Decimal, Decimal, int, int]:
        never = asyncio.Event()
        server = fake.FakeServer(hold=never.wait)
        client = fake.client(database_url, server, asynchronous=True)
        client.budgets.set("user", "u1", daily="1")
        task = asyncio.create_task(
            client.send("hi", provider=fake.PROVIDER, model="priced", user_id="u1", max_output_tokens=5000)
        )
        while server.calls == 0:
            await asyncio.sleep(0.005)
        in_flight = usage_of(client, "daily").reserved
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = usage_of(client, "daily").reserved
        await client.aclose()
        return in_flight, after, reservation_count(client), len(client.ledger.records())

    in_flight, after, rows, records = asyncio.run(scenario())

    assert in_flight == fake.estimate("hi", 5000, input_rate="1", output_rate="2")
    assert after == 0
    assert rows == 0
    assert records == 0


def test_closed_stream_settles_received(database_url: str) -> None:
    """A sync stream closed after its first chunk settles to the usage received so far."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="1")
    stream = client.stream(
        "hi",
        provider=fake.PROVIDER,
        model="priced",
        user_id="u1",
        max_output_tokens=5000,
        options={"reply_usage": {"input": 40, "output": 400}},
    )

    first = next(stream)
    stream.close()
    record = client.ledger.get(stream.response.request_id)

    # One of four events arrived: 40 input and 100 output tokens at 1 and 2 USD per million.
    assert first.text == "one "
    assert stream.response.status == "closed"
    assert record is not None
    assert record.status == "closed"
    assert record.cost == Decimal("0.00024")
    assert usage_of(client, "daily").spent == Decimal("0.00024")
    assert reservation_count(client) == 0


def test_provider_error_releases(database_url: str) -> None:
    """A provider error releases the reservation and records nothing."""
    client = fake.client(database_url, fake.FakeServer(status=400))
    client.budgets.set("user", "u1", daily="1")

    with pytest.raises(costkit.ProviderError):
        send(client, max_output_tokens=5000)

    assert reservation_count(client) == 0
    assert client.ledger.records() == []


# --- Events --------------------------------------------------------------------------------


def test_thresholds_fire_once_across_clients(database_url: str) -> None:
    """Each threshold fires once per budget and window, even when two clients share the budget."""
    first_listener, second_listener = Listener(), Listener()
    first = fake.client(database_url, listeners=(first_listener,))
    second = fake.client(database_url, listeners=(second_listener,))
    first.budgets.set("user", "u1", daily="1")

    send_even(first, "0.30")  # 0.30 spent
    send_even(first, "0.30")  # 0.60: passes 50 %
    send_even(second, "0.20")  # 0.80: passes 75 %
    send_even(second, "0.05")  # 0.85
    send_even(first, "0.10")  # 0.95: passes 90 %
    send_even(second, "0.05")  # 1.00

    assert [event.threshold for event in first_listener.reached] == [Decimal("0.5"), Decimal("0.9")]
    assert [event.threshold for event in second_listener.reached] == [Decimal("0.75")]
    assert first_listener.reached[0].spent == Decimal("0.60")
    assert first_listener.reached[0].window == "daily"
    assert first_listener.reached[0].scope_id == "u1"
    assert first_listener.reached[0].limit == Decimal("1")
    assert second_listener.reached[0].spent == Decimal("0.80")


def test_thresholds_fire_again_next_window(database_url: str) -> None:
    """A threshold passed yesterday fires again when today's spend passes it."""
    listener = Listener()
    client = fake.client(database_url, listeners=(listener,))
    client.budgets.set("user", "u1", daily="0.01")
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    record_at(client, yesterday, input_tokens=6000, output_tokens=0)  # 0.006 yesterday
    budgets = client.budgets.get("user", "u1")

    first = client.budgets.check_thresholds(budgets, at=yesterday)
    repeated = client.budgets.check_thresholds(budgets, at=yesterday)
    today = send(client, max_output_tokens=3000, options={"reply_usage": {"input": 6000, "output": 0}})
    midnight = today.request.created_at.replace(hour=0, minute=0, second=0, microsecond=0)

    assert [event.threshold for event in first] == [Decimal("0.5")]
    assert repeated == []
    assert [event.threshold for event in listener.reached] == [Decimal("0.5")]
    assert listener.reached[0].window_start == midnight


def test_exceeded_event_fires(database_url: str) -> None:
    """A rejected request emits costkit_budget_exceeded with the error raised to the caller."""
    listener = Listener()
    client = fake.client(database_url, listeners=(listener,))
    client.budgets.set("user", "u1", daily="0.01")

    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, max_output_tokens=5000)

    assert len(listener.exceeded) == 1
    assert listener.exceeded[0].error is refused.value
    assert listener.exceeded[0].request.user_id == "u1"
    assert listener.reached == []


# --- Policies and windows ------------------------------------------------------------------


def test_unknown_price_block(database_url: str) -> None:
    """With unknown_price_policy 'block', a model without a price is rejected before it is sent."""
    server = fake.FakeServer()
    client = fake.client(database_url, server, price_policy="warn", budget={"unknown_price_policy": "block"})
    client.budgets.set("user", "u1", daily="1")

    with pytest.raises(costkit.PriceNotFoundError):
        send(client, model="mystery", max_output_tokens=100)

    assert server.calls == 0
    assert reservation_count(client) == 0


def test_unknown_price_estimate(database_url: str) -> None:
    """With 'estimate', the fallback rate prices the worst case; the settled row is unpriced."""
    server = fake.FakeServer()
    settings = {"unknown_price_policy": "estimate", "fallback_rate": "1000"}
    client = fake.client(database_url, server, price_policy="warn", budget=settings)
    client.budgets.set("user", "u1", daily="0.1")

    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, model="mystery", max_output_tokens=100)
    calls_after_refusal = server.calls
    response = send(client, model="mystery", max_output_tokens=10)
    record = client.ledger.get(response.request_id)

    # 1000 USD per million tokens for 34 prompt tokens plus 100 (then 10) output tokens.
    assert refused.value.estimate == Decimal("0.134")
    assert calls_after_refusal == 0
    assert server.calls == 1
    assert record is not None
    assert record.unpriced
    assert record.cost == 0
    assert reservation_count(client) == 0


def test_unknown_price_allow(database_url: str) -> None:
    """With 'allow', a model without a price is sent without a reservation."""
    server = fake.FakeServer()
    client = fake.client(database_url, server, price_policy="warn", budget={"unknown_price_policy": "allow"})
    client.budgets.set("user", "u1", daily="0.000001")

    response = send(client, model="mystery", max_output_tokens=100_000)

    assert server.calls == 1
    assert response.cost.unpriced
    assert usage_of(client, "daily").spent == 0
    assert reservation_count(client) == 0


def test_free_model_never_consumes(database_url: str) -> None:
    """A free model is never rejected, even past the limit, and adds nothing to the spend."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.01")
    record_at(client, datetime.now(timezone.utc), input_tokens=20_000, output_tokens=0)  # 0.02, over the limit

    response = send(client, model="free-model", max_output_tokens=1_000_000)
    with pytest.raises(costkit.BudgetExceededError):
        send(client, max_output_tokens=10)

    assert response.total_cost == 0
    assert response.cost.free
    assert usage_of(client, "daily").spent == Decimal("0.02")
    assert reservation_count(client) == 0


def test_per_request_window(database_url: str) -> None:
    """A per-request budget caps each request's estimate and never accumulates spend."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", per_request="0.01")

    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, max_output_tokens=5000)  # estimate 0.010034
    send(client, max_output_tokens=4000)  # estimate 0.008034
    send(client, max_output_tokens=4000)
    window = usage_of(client, "request")

    assert refused.value.window == "request"
    assert refused.value.estimate == Decimal("0.010034")
    assert refused.value.spent == 0
    assert window.spent == 0
    assert window.window_start is None
    assert len(client.ledger.records()) == 2


def test_exceeded_error_fields(database_url: str) -> None:
    """BudgetExceededError carries scope, window, limit, spent, reserved and the estimate."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", daily="0.05")
    record_at(client, datetime.now(timezone.utc), input_tokens=15_000, output_tokens=0)  # 0.015
    insert_reservation(client, "0.03", expires_in_seconds=600)

    with pytest.raises(costkit.BudgetExceededError) as refused:
        send(client, max_output_tokens=5000)
    error = refused.value

    assert error.scope == "user"
    assert error.scope_id == "u1"
    assert error.window == "daily"
    assert error.limit == Decimal("0.05")
    assert error.spent == Decimal("0.015")
    assert error.reserved == Decimal("0.03")
    assert error.estimate == Decimal("0.010034")
    assert "0.05" in str(error)


def test_global_and_organization_scopes(database_url: str) -> None:
    """Organisation and global budgets apply to the requests of their scope."""
    client = fake.client(database_url)
    client.budgets.set("organisation", "acme", monthly="0.015")
    client.budgets.set("global", total="0.02")

    send(client, organization_id="acme", max_output_tokens=5000)  # 0.005 spent
    with pytest.raises(costkit.BudgetExceededError) as by_organization:
        send(client, organization_id="acme", max_output_tokens=5000)
    send(client, max_output_tokens=5000)  # 0.010 spent in all
    with pytest.raises(costkit.BudgetExceededError) as by_global:
        send(client, max_output_tokens=5000)

    assert by_organization.value.scope == "organization"
    assert by_organization.value.scope_id == "acme"
    assert by_global.value.scope == "global"
    assert by_global.value.scope_id is None
    assert by_global.value.spent == Decimal("0.010")


def test_cost_above_reservation_is_logged(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A response that costs more than its reservation is logged with both amounts and the cause."""
    client = fake.client(database_url)
    client.budgets.set("user", "u1", monthly="100")
    with caplog.at_level("WARNING", logger="costkit.budgets"):
        response = client.send("Hi", provider="fake", model="priced", user_id="u1", max_output_tokens=50)
    messages = [record.getMessage() for record in caplog.records if "more than its reservation" in record.getMessage()]
    assert len(messages) == 1
    assert f"cost {format_amount(response.total_cost)}, more than" in messages[0]
    assert "at most 50 output tokens" in messages[0]
    assert "2000 output tokens" in messages[0]
