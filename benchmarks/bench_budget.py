"""Budget throughput: worker processes reserving and settling against one PostgreSQL budget.

Every worker is a separate process with its own :class:`costkit.Client` (the default
``budget-enforcement`` and ``cost-tracking`` middleware, the ledger on one PostgreSQL
database) and sends requests for one project through ``httpx.MockTransport``, which answers
at once. The project has one monthly budget, sized so that it runs out during the run: each
worker stops at its first :class:`costkit.BudgetExceededError`, or at the request or time
bound. At the end the script checks that the settled spend is within the limit and that no
reservation is left open.

Run alone: ``python benchmarks/bench_budget.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from decimal import Decimal
from typing import Any

from _harness import blocked_connections, install_network_guard, median, percentile
from bench_pipeline import API_KEY, MAX_OUTPUT_TOKENS, PROMPT, chat_transport, postgres_database

__all__ = ["run"]

WORKERS = 8
PROJECT = "bench-project"
TARGET_REQUESTS = 6_000
"""About how many requests the budget pays for; it sets the limit."""

MAX_SECONDS = 120.0
"""Each worker stops after this long even if the budget is not spent, so the run is bounded."""


def _worker(url: str, start: Any, results: Any) -> None:
    """Send requests until the budget refuses one (or a bound is hit); report counts and timings."""
    install_network_guard()
    import costkit

    client = costkit.Client(
        database_url=url,
        provider_options={"openai": {"api_key": API_KEY, "transport": chat_transport(), "max_retries": 0}},
    )
    # Open the connection and warm the caches before the clock starts.
    client.budgets.get(scope="project", scope_id=PROJECT)
    client.context.chain.resolve("openai", "gpt-4o-mini")

    settled = 0
    rejected = 0
    latencies: list[float] = []
    start.wait()
    began = time.monotonic()
    deadline = began + MAX_SECONDS
    while time.monotonic() < deadline and settled < TARGET_REQUESTS:
        sent = time.perf_counter()
        try:
            client.send(
                PROMPT, provider="openai", model="gpt-4o-mini", project_id=PROJECT, max_output_tokens=MAX_OUTPUT_TOKENS
            )
        except costkit.BudgetExceededError:
            rejected += 1
            break
        latencies.append(time.perf_counter() - sent)
        settled += 1
    finished = time.monotonic()
    client.close()
    results.put(
        {
            "settled": settled,
            "rejected": rejected,
            "began": began,
            "finished": finished,
            "latencies": latencies,
            "blocked_connections": blocked_connections(),
        }
    )


def _cost_per_request() -> Decimal:
    from bench_pipeline import CHAT_COMPLETION

    import costkit

    usage = costkit.extract_usage("openai", CHAT_COMPLETION)
    assert usage is not None
    return costkit.calculate_cost("openai", "gpt-4o-mini", usage).total


def measure(url: str, *, workers: int = WORKERS, target: int = TARGET_REQUESTS) -> dict[str, Any]:
    """Run the workers against a fresh database at ``url`` and check the budget afterwards."""
    import costkit

    limit = _cost_per_request() * target
    client = costkit.Client(database_url=url)
    client.budgets.set(scope="project", scope_id=PROJECT, monthly=limit)

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    processes = [context.Process(target=_worker, args=(url, start, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    # Let every worker import costkit and connect before the start signal.
    time.sleep(3.0)
    start.set()
    reports = [results.get(timeout=MAX_SECONDS + 60) for _ in processes]
    for process in processes:
        process.join(timeout=30)

    began = min(report["began"] for report in reports)
    finished = max(report["finished"] for report in reports)
    settled = sum(report["settled"] for report in reports)
    latencies = [value for report in reports for value in report["latencies"]]

    models = client.context.database.models
    ledger_rows = models.CostRecord.select().where(models.CostRecord.project_id == PROJECT).count()
    spent = client.ledger.total()
    open_reservations = models.Reservation.select().count()
    client.close()
    return {
        "workers": workers,
        "target": target,
        "limit": str(limit),
        "settled": settled,
        "ledger_rows": ledger_rows,
        "rejected": sum(report["rejected"] for report in reports),
        "seconds": finished - began,
        "settled_per_second": settled / (finished - began),
        "latency_median": median(latencies),
        "latency_p95": percentile(latencies, 0.95),
        "spent": str(spent),
        "within_limit": spent <= limit,
        "open_reservations": open_reservations,
        "blocked_connections": [item for report in reports for item in report["blocked_connections"]],
    }


def run(*, workers: int = WORKERS, target: int = TARGET_REQUESTS) -> dict[str, Any] | None:
    """Measure settled requests per second on a throwaway PostgreSQL server; ``None`` without one."""
    install_network_guard()
    with postgres_database() as url:
        if url is None:
            return None
        result = measure(url, workers=workers, target=target)
    result["blocked_connections"] += blocked_connections()
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
