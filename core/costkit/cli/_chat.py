"""``costkit chat`` sends a prompt; ``costkit cost`` prices a saved response or token counts."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Final

import click

from costkit.cli._common import DATETIME, echo_json, get_client, money, pricing_chain, usage_counts

if TYPE_CHECKING:
    from costkit._models import Response
    from costkit._price import CostBreakdown
    from costkit._usage import Usage

__all__ = ["chat", "cost", "cost_text", "usage_text"]

COMPONENTS: Final = (
    ("input", "input"),
    ("cached_input", "cached input"),
    ("cache_write", "cache write"),
    ("output", "output"),
    ("reasoning", "reasoning"),
    ("audio_input", "audio input"),
    ("image_input", "image input"),
    ("audio_output", "audio output"),
    ("image_output", "image output"),
)
"""The per-component amounts of a CostBreakdown, with their labels."""


def usage_text(usage: Usage) -> str:
    """Describe token counts in one phrase: ``12 in (0 cached), 34 out (0 reasoning)``."""
    text = (
        f"{usage.input_tokens} in ({usage.cached_input_tokens} cached), "
        f"{usage.output_tokens} out ({usage.reasoning_tokens} reasoning)"
    )
    return f"{text}, estimated" if usage.estimated else text


def cost_text(breakdown: CostBreakdown) -> str:
    """Describe a cost in one phrase: ``0.000123 USD (source: ...)``."""
    if breakdown.unpriced:
        return "unpriced (no pricing source has a price for the model; recorded as 0)"
    source = breakdown.source or "unknown"
    if breakdown.free:
        text = f"0 {breakdown.currency} (free; source: {source})"
    else:
        text = f"{money(breakdown.total)} {breakdown.currency} (source: {source})"
    if breakdown.provider_reported is not None:
        text += f" · provider reported: {money(breakdown.provider_reported)} {breakdown.currency}"
    return text


def _summary(response: Response) -> str:
    assert response.usage is not None
    line = f"tokens: {usage_text(response.usage)} · cost: {cost_text(response.cost)}"
    if response.status != "complete":
        line += f" · stream {response.status}"
    return line


@click.command(short_help="Send a prompt; print the answer and its cost.")
@click.option("--provider", required=True, help="The provider plugin that sends the request, such as openai.")
@click.option("--model", required=True, help="The model name, such as gpt-4o-mini.")
@click.option("--user", "user_id", metavar="ID", help="The end user the request is for (budgets and reports).")
@click.option("--project", "project_id", metavar="ID", help="The project the request belongs to (budgets and reports).")
@click.option(
    "--organization",
    "organization_id",
    metavar="ID",
    help="The organization the request belongs to (budgets, reports).",
)
@click.option(
    "--max-output-tokens",
    type=click.IntRange(min=1),
    metavar="N",
    help="The maximum number of output tokens; also bounds the budget reservation.",
)
@click.option("--system", metavar="TEXT", help="A system prompt sent before PROMPT.")
@click.option("--stream", is_flag=True, help="Print the answer as it arrives.")
@click.argument("prompt")
@click.pass_context
def chat(
    ctx: click.Context,
    provider: str,
    model: str,
    user_id: str | None,
    project_id: str | None,
    organization_id: str | None,
    max_output_tokens: int | None,
    system: str | None,
    stream: bool,
    prompt: str,
) -> None:
    """Send PROMPT to a model; print the answer, then its tokens and cost.

    PROMPT "-" reads the prompt from standard input. The request passes the configured
    middleware, so it is checked against budgets and recorded in the ledger.
    """
    if prompt == "-":
        prompt = sys.stdin.read()
    client = get_client(ctx)
    fields: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "system": system,
        "max_output_tokens": max_output_tokens,
        "user_id": user_id,
        "project_id": project_id,
        "organization_id": organization_id,
    }

    if not stream:
        response = client.send(prompt, **fields)
        click.echo(response.text)
        click.echo(_summary(response))
        return

    # Closing the stream in every case lets the middleware account for what arrived, also
    # when the user interrupts it.
    answer = client.stream(prompt, **fields)
    try:
        for chunk in answer:
            click.echo(chunk.text, nl=False)
            sys.stdout.flush()
    finally:
        answer.close()
    click.echo()
    if answer.response is not None:
        click.echo(_summary(answer.response))


@click.command(short_help="Price a saved response or token counts.")
@click.option("--provider", required=True, help="The provider whose usage format FILE has, such as openai.")
@click.option("--model", required=True, help="The model to price, such as gpt-4o-mini.")
@click.argument("file", type=click.File("rb"), required=False)
@click.option(
    "--input-tokens", type=click.IntRange(min=0), metavar="N", help="Every billed prompt token, cached ones included."
)
@click.option(
    "--cached-input-tokens", type=click.IntRange(min=0), metavar="N", help="Prompt tokens read from the cache."
)
@click.option(
    "--cache-write-tokens", type=click.IntRange(min=0), metavar="N", help="Prompt tokens written to the cache."
)
@click.option(
    "--output-tokens", type=click.IntRange(min=0), metavar="N", help="Every billed output token, reasoning included."
)
@click.option("--reasoning-tokens", type=click.IntRange(min=0), metavar="N", help="Reasoning tokens (part of output).")
@click.option("--at", type=DATETIME, help="Use the price in force at this time. Default: now.")
@click.option("--service-tier", metavar="TIER", help="The service tier whose rates apply, such as batch or flex.")
@click.option("--json", "as_json", is_flag=True, help="Print the usage and the cost as JSON.")
@click.pass_context
def cost(
    ctx: click.Context,
    /,
    provider: str,
    model: str,
    file: IO[bytes] | None,
    at: datetime | None,
    service_tier: str | None,
    as_json: bool,
    **counts: int | None,
) -> None:
    """Price a saved response body or stream (FILE, "-" for standard input), or token counts.

    Streams (server-sent events, JSON lines, JSON arrays) are recognised from the content.
    Amounts are exact, in USD.
    """
    counts_given: dict[str, Any] = {name: value for name, value in counts.items() if value is not None}
    if file is not None and counts_given:
        message = "give either FILE or token counts (--input-tokens, --output-tokens...), not both"
        raise click.UsageError(message)
    if file is None and not counts_given:
        message = "give a response FILE to price, or token counts such as --input-tokens 1000 --output-tokens 200"
        raise click.UsageError(message)

    client = get_client(ctx)
    if file is not None:
        usage = _usage_from_file(client, provider, file)
    else:
        from costkit._usage import Usage

        usage = Usage(**counts_given)
    breakdown = pricing_chain(client).calculate(provider, model, usage, at=at, service_tier=service_tier)

    if as_json:
        echo_json(_cost_json(provider, model, usage, breakdown))
        return
    click.echo(f"{provider}/{model}: {cost_text(breakdown)}")
    click.echo(f"tokens: {usage_text(usage)}")
    for name, label in COMPONENTS:
        amount = getattr(breakdown, name)
        if amount:
            click.echo(f"  {label}: {money(amount)} {breakdown.currency}")
    if breakdown.price is not None and breakdown.price.model != model:
        click.echo(f"priced as: {breakdown.price.model}")


def _usage_from_file(client: Any, provider: str, file: IO[bytes]) -> Usage:
    from costkit._chain import extract_usage
    from costkit.errors import CostkitError

    name = getattr(file, "name", "FILE")
    body = file.read()
    try:
        usage = extract_usage(provider, body, plugins=client.context.plugins)
    except CostkitError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        message = f"could not read usage from {name} as a response or stream of provider {provider}: {exc}"
        raise click.ClickException(message) from exc
    if usage is None:
        message = (
            f"{name} carries no usage (a stream recorded without usage, or not a response of provider {provider}); "
            "price it with token counts such as --input-tokens and --output-tokens instead"
        )
        raise click.ClickException(message)
    return usage


def _cost_json(provider: str, model: str, usage: Usage, breakdown: CostBreakdown) -> dict[str, Any]:
    price = breakdown.price
    return {
        "provider": provider,
        "model": model,
        "usage": usage_counts(usage),
        "total_cost": money(breakdown.total),
        "currency": breakdown.currency,
        "components": {name: money(getattr(breakdown, name)) for name, _ in COMPONENTS},
        "price_source": breakdown.source,
        "price_model": price.model if price is not None else None,
        "free": breakdown.free,
        "unpriced": breakdown.unpriced,
        "service_tier": breakdown.service_tier,
        "provider_reported_cost": money(breakdown.provider_reported),
        "difference": money(breakdown.difference),
    }
