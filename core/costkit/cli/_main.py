"""The ``costkit`` command group and its global options."""

from __future__ import annotations

import click

from costkit.cli._budget import budget
from costkit.cli._chat import chat, cost
from costkit.cli._common import CONTEXT_SETTINGS, CostkitGroup
from costkit.cli._conversations import conversations
from costkit.cli._ledger import ledger, report, reprice
from costkit.cli._plugins import plugins
from costkit.cli._prices import prices

__all__ = ["main"]


def _version() -> str:
    from costkit import __version__

    return __version__


@click.group(name="costkit", cls=CostkitGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--database-url",
    metavar="URL",
    help=(
        "The ledger database, such as sqlite:///ledger.db or postgresql://USER:PASSWORD@HOST:PORT/NAME. "
        "Default: COSTKIT_DATABASE_URL, then the config file, then ledger.sqlite3 in the user data directory."
    ),
)
@click.version_option(_version(), "--version", prog_name="costkit", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Call LLM providers and know exactly what every response cost.

    Money is in USD; price rates are USD per million tokens.

    \b
    Dates are YYYY-MM-DD or ISO datetimes (UTC when they carry no offset).
    """
    obj = ctx.ensure_object(dict)
    if database_url is not None:
        obj["database_url"] = database_url


for _command in (chat, cost, report, budget, prices, reprice, plugins, ledger, conversations):
    main.add_command(_command)
