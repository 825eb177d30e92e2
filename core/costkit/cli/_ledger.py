"""``costkit report``, ``costkit reprice`` and ``costkit ledger replay``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import click

from costkit.cli._common import DATETIME, CostkitGroup, echo_json, get_client, iso, make_console, money, print_table

if TYPE_CHECKING:
    from costkit.ledger import ReportRow

__all__ = ["ledger", "report", "reprice"]

REPORT_GROUPS: Final = ("provider", "model", "user", "project", "organization", "conversation", "day", "week", "month")
"""The ``--by`` choices; the same as ``costkit.ledger.GROUPS``, listed here to keep the import light."""

REPORT_COLUMNS: Final = (
    "group",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost",
)


def _row_values(row: ReportRow) -> dict[str, Any]:
    return {
        "group": row.group,
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "cached_input_tokens": row.cached_input_tokens,
        "output_tokens": row.output_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "cost": money(row.cost),
    }


@click.command(short_help="Sum requests, tokens and cost from the ledger.")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(REPORT_GROUPS),
    default="provider",
    show_default=True,
    help="What each row sums over; day, week (from Monday) and month are UTC periods.",
)
@click.option("--since", type=DATETIME, help="First instant included. Default: the first request.")
@click.option("--until", type=DATETIME, help="First instant excluded. Default: no end.")
@click.option("--provider", help="Only requests to this provider.")
@click.option("--model", help="Only requests whose response came from this model.")
@click.option("--user", "user_id", metavar="ID", help="Only requests of this user.")
@click.option("--project", "project_id", metavar="ID", help="Only requests of this project.")
@click.option("--organization", "organization_id", metavar="ID", help="Only requests of this organization.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    show_default=True,
    help="A table for people, CSV or JSON for scripts.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON; the same as --format json.")
@click.pass_context
def report(
    ctx: click.Context,
    /,
    group_by: str,
    since: datetime | None,
    until: datetime | None,
    output_format: str,
    as_json: bool,
    **filters: str | None,
) -> None:
    """Sum requests, tokens and exact cost (USD) from the ledger, one row per group.

    Rows are sorted by cost, highest first; day, week and month rows by date.
    """
    if as_json:
        output_format = "json"
    if since is not None and until is not None and until <= since:
        raise click.BadParameter(f"--until ({iso(until)}) must be after --since ({iso(since)})", param_hint="--until")
    rows = get_client(ctx).ledger.report(group_by, since=since, until=until, **filters)
    total = sum((row.cost for row in rows), Decimal(0))
    requests = sum(row.requests for row in rows)

    if output_format == "json":
        echo_json(
            {
                "group_by": group_by,
                "since": iso(since),
                "until": iso(until),
                "rows": [_row_values(row) for row in rows],
                "total": {"requests": requests, "cost": money(total)},
            }
        )
        return
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_row_values(row) for row in rows)
        click.echo(buffer.getvalue(), nl=False)
        return
    if not rows:
        click.echo("No requests in the ledger for this selection.")
        return
    table_rows = [
        [
            row.group if row.group is not None else "(none)",
            str(row.requests),
            str(row.input_tokens),
            str(row.cached_input_tokens),
            str(row.output_tokens),
            str(row.reasoning_tokens),
            money(row.cost) or "0",
        ]
        for row in rows
    ]
    table_rows.append(["total", str(requests), "", "", "", "", money(total) or "0"])
    numeric = ("requests", "input", "cached input", "output", "reasoning", "cost (USD)")
    print_table((group_by, *numeric), table_rows, numeric=numeric)


@click.command(short_help="Recompute ledger costs with the current prices.")
@click.option("--since", type=DATETIME, required=True, help="First request time included.")
@click.option("--until", type=DATETIME, required=True, help="First request time excluded.")
@click.pass_context
def reprice(ctx: click.Context, since: datetime, until: datetime) -> None:
    """Recompute the cost of the ledger rows in [--since, --until) with the prices now stored.

    Each row is priced with the price in force at its request time; a changed row keeps its
    previous cost. Rows whose model has no price any more keep their cost.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if until <= since:
        message = f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})"
        raise click.BadParameter(message, param_hint="--until")
    ledger_ = get_client(ctx).ledger
    with Progress(
        TextColumn("Repricing"), BarColumn(), MofNCompleteColumn(), console=make_console(stderr=True)
    ) as progress:
        task = progress.add_task("reprice", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = ledger_.reprice(since=since, until=until, progress=advance)
        # With no rows the callback never runs; show 0/0 rather than an unknown total.
        progress.update(task, completed=result.examined, total=result.examined)

    click.echo(f"examined: {result.examined}")
    click.echo(f"changed: {result.changed}")
    click.echo(f"previous total: {money(result.previous_total)} USD")
    click.echo(f"new total: {money(result.new_total)} USD")


@click.group(cls=CostkitGroup)
def ledger() -> None:
    """Maintain the cost ledger."""


@ledger.command()
@click.pass_context
def replay(ctx: click.Context) -> None:
    """Write the rows waiting in the journal to the ledger database (each at most once).

    Rows go to the journal when the database could not be written; costkit replays them
    after the next successful write, and this command replays them now.
    """
    ledger_ = get_client(ctx).ledger
    count = ledger_.replay()
    noun = "row" if count == 1 else "rows"
    click.echo(f"Replayed {count} {noun} from the journal {ledger_.journal.path} into the ledger.")
