"""Process entry points for the multi-process budget tests (started with the "spawn" method).

The parent's ``sys.path`` reaches a spawned child, so this module and the fake provider import
there as they do in the test.
"""

from __future__ import annotations

import time
import traceback
from decimal import Decimal
from typing import Any

import _budget_provider as fake

import costkit

__all__ = ["send_until_refused"]

MAX_ATTEMPTS = 2000
"""A bound on attempts per process, so a broken budget check fails the test instead of hanging it."""
START_TIMEOUT = 60
"""Seconds a process waits at the start barrier for the others."""


def send_until_refused(
    database_url: str,
    user_id: str,
    max_output_tokens: int,
    reply_usage: dict[str, int],
    start: Any,
    results: Any,
) -> None:
    """Send requests for ``user_id`` until the budget refuses one with nothing in flight.

    Other processes' reservations may settle for less than they reserved, so after a refusal
    with something reserved the process tries again. A refusal with nothing reserved is final.
    Every process waits at the ``start`` barrier, so their requests overlap.

    Puts on ``results`` a dict: ``sent`` (successful requests), ``refused`` (every
    BudgetExceededError), ``cost`` (the total of the responses' costs, as a string) and
    ``final`` (spent, reserved and estimate of the last error as strings, or ``None`` when
    the attempts ran out). When the process fails, the dict has ``error`` (the traceback)
    instead, and the barrier is broken so the other processes stop waiting.
    """
    try:
        outcome = _race(database_url, user_id, max_output_tokens, reply_usage, start)
    except BaseException:
        start.abort()
        outcome = {"error": traceback.format_exc()}
    results.put(outcome)


def _race(
    database_url: str, user_id: str, max_output_tokens: int, reply_usage: dict[str, int], start: Any
) -> dict[str, Any]:
    server = fake.FakeServer(delay=0.002)
    client = fake.client(database_url, server)
    client.ledger.total()  # open the database and migrate before the race starts
    sent = refused = 0
    total = Decimal(0)
    final = None
    start.wait(timeout=START_TIMEOUT)
    for _ in range(MAX_ATTEMPTS):
        try:
            response = client.send(
                "hi",
                provider=fake.PROVIDER,
                model="priced",
                user_id=user_id,
                max_output_tokens=max_output_tokens,
                options={"reply_usage": reply_usage},
            )
        except costkit.BudgetExceededError as exc:
            refused += 1
            if exc.reserved == 0:
                final = {"spent": str(exc.spent), "reserved": str(exc.reserved), "estimate": str(exc.estimate)}
                break
            time.sleep(0.001)
            continue
        sent += 1
        total += response.total_cost
    client.close()
    return {"sent": sent, "refused": refused, "cost": str(total), "final": final}
