"""``costkit budget set`` and ``costkit budget show``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import click

from costkit.cli._common import (
    AMOUNT,
    THRESHOLDS,
    CostkitGroup,
    echo_json,
    get_client,
    iso,
    join_words,
    money,
    print_table,
)

if TYPE_CHECKING:
    from costkit.budgets import BudgetUsage

__all__ = ["budget"]

SCOPES: Final = ("user", "project", "organization", "global")
"""The ``--scope`` choices; the same as ``costkit.budgets.SCOPES``, listed here to keep the import light."""


def _check_scope(scope: str, scope_id: str | None) -> None:
    if scope == "global" and scope_id is not None:
        raise click.BadParameter("the global scope has no id; leave --id out", param_hint="--id")
    if scope != "global" and not scope_id:
        message = f"a {scope} budget needs --id (the {scope} id)"
        raise click.BadParameter(message, param_hint="--id")


def _usage_values(usage: BudgetUsage) -> dict[str, Any]:
    info = usage.budget
    return {
        "scope": info.scope,
        "id": info.scope_id,
        "window": info.window,
        "limit": money(info.limit),
        "currency": info.currency,
        "spent": money(usage.spent),
        "reserved": money(usage.reserved),
        "remaining": money(usage.remaining),
        "window_start": iso(usage.window_start),
        "window_end": iso(usage.window_end),
        "timezone": info.timezone,
        "thresholds": [money(level) for level in info.thresholds],
    }


def _print_usages(usages: list[BudgetUsage], as_json: bool) -> None:
    if as_json:
        echo_json([_usage_values(usage) for usage in usages])
        return
    if not usages:
        click.echo("No budgets set.")
        return
    rows = []
    for usage in usages:
        values = _usage_values(usage)
        rows.append(
            [
                values["scope"],
                values["id"] or "",
                values["window"],
                values["limit"],
                values["spent"],
                values["reserved"],
                values["remaining"],
                values["window_end"] or "",
                values["timezone"],
                ", ".join(values["thresholds"]),
            ]
        )
    columns = ("scope", "id", "window", "limit", "spent", "reserved", "remaining", "resets at", "time zone", "alerts")
    print_table(columns, rows, caption="Amounts in USD", numeric=("limit", "spent", "reserved", "remaining"))


@click.group(cls=CostkitGroup, short_help="Set, show and delete spending limits.")
def budget() -> None:
    """Set, show and delete spending limits per user, project, organization or for everything."""


@budget.command(name="set")
@click.option("--scope", type=click.Choice(SCOPES), required=True, help="Who the budget limits.")
@click.option("--id", "scope_id", metavar="ID", help="The user, project or organization id; not for global.")
@click.option("--per-request", type=AMOUNT, help="The maximum cost of one request, in USD.")
@click.option("--daily", type=AMOUNT, help="The maximum spend per day, in USD.")
@click.option("--weekly", type=AMOUNT, help="The maximum spend per week (from Monday), in USD.")
@click.option("--monthly", type=AMOUNT, help="The maximum spend per calendar month, in USD.")
@click.option("--total", type=AMOUNT, help="The maximum spend in total, in USD.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="The IANA time zone where days, weeks and months start, such as Europe/Berlin.",
)
@click.option(
    "--thresholds",
    type=THRESHOLDS,
    help="Alert thresholds as fractions of each limit. Default: 0.5,0.75,0.9.",
)
@click.pass_context
def set_budget(
    ctx: click.Context,
    /,
    scope: str,
    scope_id: str | None,
    timezone: str,
    thresholds: tuple[Decimal, ...] | None,
    **limits: Decimal | None,
) -> None:
    """Create or replace the limits given for a scope; its other limits stay as they are."""
    _check_scope(scope, scope_id)
    if all(value is None for value in limits.values()):
        raise click.UsageError("give at least one limit: --per-request, --daily, --weekly, --monthly or --total")
    budgets = get_client(ctx).budgets
    budgets.set(scope, scope_id, timezone=timezone, thresholds=thresholds, **limits)
    scope_label = "the global scope" if scope == "global" else f"{scope} {scope_id}"
    windows = [name.replace("_", "-") for name, value in limits.items() if value is not None]
    noun = "budget" if len(windows) == 1 else "budgets"
    click.echo(f"Set the {join_words(windows)} {noun} of {scope_label}.")
    _print_usages(budgets.usage(scope, scope_id), as_json=False)


@budget.command(name="show")
@click.option("--scope", type=click.Choice(SCOPES), help="Show only this scope. Default: every budget.")
@click.option("--id", "scope_id", metavar="ID", help="The user, project or organization id, with --scope.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_budget(ctx: click.Context, scope: str | None, scope_id: str | None, as_json: bool) -> None:
    """Show budgets with the spend, reservations and what remains in the current window (USD)."""
    budgets = get_client(ctx).budgets
    if scope is not None:
        _check_scope(scope, scope_id)
        usages = budgets.usage(scope, scope_id)
    elif scope_id is not None:
        raise click.BadParameter("--id needs --scope", param_hint="--id")
    else:
        scopes: list[tuple[str, str | None]] = []
        for info in budgets.list():
            key = (info.scope, info.scope_id)
            if key not in scopes:
                scopes.append(key)
        usages = []
        for key in scopes:
            usages.extend(budgets.usage(*key))
    _print_usages(usages, as_json)


@budget.command(name="delete")
@click.option("--scope", type=click.Choice(SCOPES), required=True, help="Whose budgets to delete.")
@click.option("--id", "scope_id", metavar="ID", help="The user, project or organization id; not for global.")
@click.option(
    "--window",
    type=click.Choice(("request", "daily", "weekly", "monthly", "total")),
    help="Delete only this window's budget. Default: every window of the scope.",
)
@click.pass_context
def delete_budget(ctx: click.Context, scope: str, scope_id: str | None, window: str | None) -> None:
    """Delete the budgets of a scope (or one window of them); the ledger keeps its rows."""
    _check_scope(scope, scope_id)
    deleted = get_client(ctx).budgets.delete(scope, scope_id, window)
    scope_label = "the global scope" if scope == "global" else f"{scope} {scope_id}"
    if deleted == 0:
        raise click.ClickException(f"no budget of {scope_label} to delete; list them with `costkit budget show`")
    noun = "budget" if deleted == 1 else "budgets"
    click.echo(f"Deleted {deleted} {noun} of {scope_label}.")
