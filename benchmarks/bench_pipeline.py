"""Pipeline overhead: a request through budgets, cost tracking and the ledger, against the bare driver.

Both paths send the same OpenAI chat request through ``httpx.MockTransport``, which answers
at once with a small chat completion held in memory, so the difference between them is the
time costkit adds: the budget check and reservation, pricing, the ledger row and the settling
of the reservation. The client has a monthly budget for the request's user, so the
reservation path runs on every request.

The two paths take turns in blocks of requests; each request is timed on its own, and the
report gives the median and the 95th percentile of each path.

Run alone: ``python benchmarks/bench_pipeline.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from _harness import blocked_connections, install_network_guard, median, percentile

__all__ = ["CHAT_COMPLETION", "run"]

ROUNDS = 20
"""Blocks per path; the paths alternate, block by block."""

PER_ROUND = 100
"""Requests per block."""

WARMUP = 200
"""Untimed requests per path before the first block."""

USER = "bench-user"
PROMPT = "Write one sentence about the sea."
MAX_OUTPUT_TOKENS = 200
API_KEY = "sk-bench-placeholder"

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1764806400,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The sea keeps its own time, folding the light into every wave.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 14,
        "completion_tokens": 15,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_bench",
}
"""A chat completion shaped like the ones api.openai.com returns for gpt-4o-mini."""


def chat_transport() -> httpx.MockTransport:
    """Return a transport that responds to every request with :data:`CHAT_COMPLETION`."""
    body = json.dumps(CHAT_COMPLETION).encode()
    headers = {"content-type": "application/json"}

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=body)

    return httpx.MockTransport(handle)


def client_for(database_url: str) -> Any:
    """Return a client with the default middleware, the ledger at ``database_url`` and a user budget."""
    import costkit

    client = costkit.Client(
        database_url=database_url,
        provider_options={"openai": {"api_key": API_KEY, "transport": chat_transport(), "max_retries": 0}},
    )
    client.budgets.set(scope="user", scope_id=USER, monthly=Decimal("1000000"))
    return client


def _time_each(send: Callable[[], Any], count: int, into: list[float]) -> None:
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        send()
        into.append(clock() - start)


def _summary(samples: list[float]) -> dict[str, float]:
    return {"median": median(samples), "p95": percentile(samples, 0.95), "count": len(samples)}


def measure(database_url: str, *, rounds: int = ROUNDS, per_round: int = PER_ROUND) -> dict[str, Any]:
    """Time bare driver requests against tracked client requests on one ledger database."""
    import costkit

    client = client_for(database_url)
    driver = client.context.plugins.drivers()["openai"](api_key=API_KEY, transport=chat_transport(), max_retries=0)
    messages = (costkit.Message("user", PROMPT),)

    def bare() -> Any:
        request = costkit.Request(
            provider="openai", model="gpt-4o-mini", messages=messages, max_output_tokens=MAX_OUTPUT_TOKENS, user_id=USER
        )
        return driver.send(request)

    def tracked() -> Any:
        return client.send(
            PROMPT, provider="openai", model="gpt-4o-mini", user_id=USER, max_output_tokens=MAX_OUTPUT_TOKENS
        )

    for _ in range(WARMUP):
        bare()
        tracked()

    bare_samples: list[float] = []
    tracked_samples: list[float] = []
    for index in range(rounds):
        order = [(bare, bare_samples), (tracked, tracked_samples)]
        if index % 2:
            order.reverse()
        for send, samples in order:
            _time_each(send, per_round, samples)

    usage = client.budgets.usage(scope="user", scope_id=USER)
    rows = len(client.ledger.records(user_id=USER))
    client.close()
    driver.close()
    bare_summary = _summary(bare_samples)
    tracked_summary = _summary(tracked_samples)
    return {
        "bare": bare_summary,
        "tracked": tracked_summary,
        "added_median": tracked_summary["median"] - bare_summary["median"],
        "added_p95": tracked_summary["p95"] - bare_summary["p95"],
        "ledger_rows": rows,
        "expected_rows": WARMUP + rounds * per_round,
        "open_reservations": str(usage[0].reserved),
    }


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """Yield the URL of a new database on a throwaway PostgreSQL server, or ``None`` without PostgreSQL."""
    from costkit.testing.postgres import create_database, running_postgres

    with running_postgres() as server_url:
        yield create_database(server_url) if server_url is not None else None


def run(*, rounds: int = ROUNDS, per_round: int = PER_ROUND) -> dict[str, Any]:
    """Measure the overhead on SQLite and on PostgreSQL over loopback."""
    install_network_guard()
    results: dict[str, Any] = {"rounds": rounds, "per_round": per_round, "warmup": WARMUP}
    with tempfile.TemporaryDirectory(prefix="costkit-bench-") as folder:
        results["sqlite"] = measure(f"sqlite:///{Path(folder) / 'ledger.sqlite3'}", rounds=rounds, per_round=per_round)
    with postgres_database() as url:
        results["postgresql"] = measure(url, rounds=rounds, per_round=per_round) if url else None
    results["blocked_connections"] = blocked_connections()
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
