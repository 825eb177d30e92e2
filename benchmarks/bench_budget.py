"""Budget throughput: worker processes reserving and settling against one PostgreSQL budget.

Every worker is a separate process with its own :class:`costkit.Client` and its ledger on one
PostgreSQL database, and sends requests for one project. The project has one monthly budget,
sized so that it runs out during the run: each worker stops at its first
:class:`costkit.BudgetExceededError`, or at the request or time bound. At the end the script
checks that the settled spend is within the limit and that no reservation is left open.

It runs twice, on a fresh database each time. In ``client`` mode a request goes through
``client.send`` with the default ``budget-enforcement`` and ``cost-tracking`` middleware, and
``httpx.MockTransport`` responds at once. In ``store`` mode the worker calls what those
middleware call (``BudgetStore.reserve``, ``Ledger.record``, ``BudgetStore.check_thresholds``)
without the client, the pipeline and the HTTP layer.

Run alone: ``python benchmarks/bench_budget.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from _harness import blocked_connections, install_network_guard, median, percentile
from bench_pipeline import API_KEY, CHAT_COMPLETION, MAX_OUTPUT_TOKENS, PROMPT, chat_transport

__all__ = ["run"]

WORKERS = 8
PROJECT = "bench-project"
TARGET_REQUESTS = 6_000
"""About how many requests the budget pays for; it sets the limit."""

MAX_SECONDS = 120.0
"""Each worker stops after this long even if the budget is not spent, so the run is bounded."""


def _client_sender(client: Any) -> Callable[[], Any]:
    """Return a call that sends one request through the client and its middleware."""

    def send() -> Any:
        return client.send(
            PROMPT, provider="openai", model="gpt-4o-mini", project_id=PROJECT, max_output_tokens=MAX_OUTPUT_TOKENS
        )

    return send


def _store_sender(client: Any) -> Callable[[], Any]:
    """Return a call that does what budget-enforcement and cost-tracking do, without the client.

    It reserves the worst-case cost with ``BudgetStore.reserve``, records the response's
    row with ``Ledger.record`` (which settles the reservation) and checks the alert
    thresholds. The provider call and the middleware pipeline are left out.
    """
    import costkit
    from costkit.budgets import BudgetEnforcementMiddleware, BudgetStore

    context = client.context
    store = BudgetStore(context)
    estimator = BudgetEnforcementMiddleware(context)
    ledger = context.ledger
    chain = context.chain
    usage = costkit.extract_usage("openai", CHAT_COMPLETION)
    messages = (costkit.Message("user", PROMPT),)
    ttl = context.settings.budget.reservation_ttl_seconds

    def send() -> Any:
        request = costkit.Request(
            provider="openai",
            model="gpt-4o-mini",
            messages=messages,
            max_output_tokens=MAX_OUTPUT_TOKENS,
            project_id=PROJECT,
        )
        budgets = store.reserve(request, estimator.estimate(request), ttl_seconds=ttl)
        response = costkit.Response(request=request, text="", usage=usage, model=CHAT_COMPLETION["model"])
        ledger.record(request, response, chain.price_response(response))
        store.check_thresholds(budgets)
        return response

    return send


def _worker(url: str, mode: str, start: Any, results: Any) -> None:
    """Send requests until the budget rejects one (or a bound is hit); report counts and timings."""
    install_network_guard()
    import costkit

    client = costkit.Client(
        database_url=url,
        provider_options={"openai": {"api_key": API_KEY, "transport": chat_transport(), "max_retries": 0}},
    )
    # Open the connection and warm the caches before the clock starts.
    client.budgets.get(scope="project", scope_id=PROJECT)
    client.context.chain.resolve("openai", "gpt-4o-mini")
    send = _client_sender(client) if mode == "client" else _store_sender(client)

    settled = 0
    rejected = 0
    latencies: list[float] = []
    start.wait()
    began = time.monotonic()
    deadline = began + MAX_SECONDS
    while time.monotonic() < deadline and settled < TARGET_REQUESTS:
        sent = time.perf_counter()
        try:
            send()
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

    import costkit

    usage = costkit.extract_usage("openai", CHAT_COMPLETION)
    assert usage is not None
    return costkit.calculate_cost("openai", "gpt-4o-mini", usage).total


def measure(url: str, mode: str, *, workers: int = WORKERS, target: int = TARGET_REQUESTS) -> dict[str, Any]:
    """Run the workers in ``mode`` (``client`` or ``store``) on the fresh database at ``url``; check the budget."""
    import costkit

    limit = _cost_per_request() * target
    client = costkit.Client(database_url=url)
    client.budgets.set(scope="project", scope_id=PROJECT, monthly=limit)

    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    processes = [context.Process(target=_worker, args=(url, mode, start, results)) for _ in range(workers)]
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
        "mode": mode,
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
    """Measure settled requests per second through the client, then through the stores alone.

    Each mode gets a fresh database on one throwaway PostgreSQL server; ``None`` without PostgreSQL.
    """
    install_network_guard()
    from costkit.testing.postgres import create_database, running_postgres

    results: dict[str, Any] = {}
    with running_postgres() as server_url:
        if server_url is None:
            return None
        for mode in ("client", "store"):
            result = measure(create_database(server_url), mode, workers=workers, target=target)
            result["blocked_connections"] += blocked_connections()
            results[mode] = result
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
