"""Ledger scale: a one-month report grouped by model over 10^4, 10^5 and 10^6 SQLite rows.

Rows are generated with a fixed seed and bulk-inserted straight into the ledger table, in
batches inside one transaction per size step. Every row falls inside the reported month, so
the report sums all of them: the worst case for a one-month report.

Run alone: ``python benchmarks/bench_ledger.py``.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from _harness import chunks, install_network_guard, median

__all__ = ["SIZES", "run"]

SIZES = (10_000, 100_000, 1_000_000)
REPEATS = 7
"""Report runs per size; the figures are the median, plus the first run on its own."""

BATCH = 20_000
"""Rows per executemany call."""

MONTH_START = date(2026, 10, 1)
MONTH_END = date(2026, 11, 1)

MODELS = (
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("openai", "gpt-4o", "2.50", "10"),
    ("openai", "gpt-5-mini", "0.25", "2"),
    ("openai", "o3-mini", "1.10", "4.40"),
    ("xai", "grok-3-mini", "0.30", "0.50"),
    ("xai", "grok-4", "3", "15"),
    ("gemini", "gemini-2.5-pro", "1.25", "10"),
    ("gemini", "gemini-2.5-flash", "0.30", "2.50"),
    ("gemini", "gemini-2.5-flash-lite", "0.10", "0.40"),
    ("ollama", "llama3.2", "0", "0"),
)
"""Models with their input and output rates in USD per million tokens (the figures only need
to be plausible; they set the stored costs)."""


def _micros(day: date) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000


def _rows(count: int, seed: int, offset: int) -> Iterator[tuple[Any, ...]]:
    """Yield ledger rows as tuples in the column order of :func:`_columns`."""
    rng = random.Random(seed)
    start = _micros(MONTH_START)
    span = _micros(MONTH_END) - start
    rates = [
        (provider, model, int(float(rate_in) * 1e6), int(float(rate_out) * 1e6))
        for provider, model, rate_in, rate_out in MODELS
    ]
    for index in range(offset, offset + count):
        provider, model, rate_in, rate_out = rates[rng.randrange(len(rates))]
        input_tokens = rng.randrange(10, 20_000)
        cached = rng.randrange(0, input_tokens // 2 + 1)
        output_tokens = rng.randrange(1, 2_000)
        created = start + rng.randrange(span)
        # Cost in 10^-12 USD: tokens x (USD per million tokens x 10^6) is exact in those units.
        cost = input_tokens * rate_in + output_tokens * rate_out
        yield (
            f"bench-{index:08d}",
            created,
            created,
            f"user-{rng.randrange(500)}",
            f"project-{rng.randrange(20)}",
            None,
            None,
            provider,
            model,
            model,
            input_tokens,
            cached,
            0,
            output_tokens,
            0,
            0,
            0,
            0,
            0,
            0,
            cost,
            "USD",
            "benchmark rates",
            None,
            rate_in == 0,
            False,
            None,
            None,
            False,
            False,
            "complete",
            None,
            None,
            None,
            None,
        )


def _columns(table: Any) -> list[str]:
    names = [
        "request_id",
        "created_at",
        "recorded_at",
        "user_id",
        "project_id",
        "organization_id",
        "conversation_id",
        "provider",
        "model",
        "requested_model",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "audio_input_tokens",
        "image_input_tokens",
        "audio_output_tokens",
        "image_output_tokens",
        "tool_use_prompt_tokens",
        "cost",
        "currency",
        "price_source",
        "price_version",
        "free",
        "unpriced",
        "provider_reported_cost",
        "service_tier",
        "streamed",
        "estimated",
        "status",
        "metadata",
        "previous_cost",
        "previous_price_source",
        "repriced_at",
    ]
    known = {field.column_name for field in table._meta.sorted_fields}
    missing = [name for name in names if name not in known]
    if missing:
        message = f"the ledger table has no column(s) {missing}; update the benchmark's column list"
        raise RuntimeError(message)
    return names


def insert_rows(database: Any, count: int, offset: int) -> float:
    """Bulk-insert ``count`` generated rows in one transaction; return the seconds it took."""
    table = database.models.CostRecord
    columns = _columns(table)
    placeholders = ", ".join("?" for _ in columns)
    sql = f'INSERT INTO "{table._meta.table_name}" ({", ".join(columns)}) VALUES ({placeholders})'
    # A ledger receives its rows in time order, so the rows are inserted sorted by created_at.
    rows = sorted(_rows(count, seed=offset, offset=offset), key=lambda row: row[1])
    began = time.perf_counter()
    with database.write_transaction():
        cursor = database.peewee.cursor()
        for batch in chunks(rows, BATCH):
            cursor.executemany(sql, batch)
    return time.perf_counter() - began


def run(sizes: tuple[int, ...] = SIZES, repeats: int = REPEATS) -> dict[str, Any]:
    """Grow one SQLite ledger through ``sizes`` and time the monthly report at each size."""
    install_network_guard()
    import costkit

    steps = []
    with tempfile.TemporaryDirectory(prefix="costkit-bench-") as folder:
        client = costkit.Client(database_url=f"sqlite:///{Path(folder) / 'ledger.sqlite3'}")
        database = client.context.database
        present = 0
        for size in sizes:
            insert_seconds = insert_rows(database, size - present, present)
            present = size
            timings = []
            report: list[Any] = []
            for _ in range(repeats):
                began = time.perf_counter()
                report = client.ledger.report(group_by="model", since=MONTH_START, until=MONTH_END)
                timings.append(time.perf_counter() - began)
            steps.append(
                {
                    "rows": size,
                    "insert_seconds": insert_seconds,
                    "first_seconds": timings[0],
                    "median_seconds": median(timings),
                    "groups": len(report),
                    "requests_in_report": sum(row.requests for row in report),
                }
            )
        client.close()
    return {"repeats": repeats, "steps": steps}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
