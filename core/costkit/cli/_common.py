"""Shared parts of the commands: the client, parameter types, error reporting and output helpers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import click

from costkit._money import format_amount
from costkit.errors import CostkitError

if TYPE_CHECKING:
    from rich.console import Console

    from costkit._client import Client
    from costkit._usage import Usage
    from costkit.pricing import PricingChain

__all__ = [
    "AMOUNT",
    "CONTEXT_SETTINGS",
    "DATE",
    "DATETIME",
    "RATE",
    "THRESHOLDS",
    "ClientFactory",
    "CostkitGroup",
    "echo_json",
    "get_client",
    "iso",
    "join_words",
    "make_console",
    "money",
    "pricing_chain",
    "print_table",
    "usage_counts",
]

ClientFactory = Callable[[str | None], "Client"]
"""Builds the client a command uses from the ``--database-url`` value (``None`` when not given)."""

CONTEXT_SETTINGS: Final = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

UNBOUNDED_WIDTH: Final = 200
"""The table width used when standard output is not a terminal and COLUMNS is not set."""

_WHITESPACE: Final = re.compile(r"\s*\n\s*")


class CostkitGroup(click.Group):
    """A click group that reports costkit errors as one ``Error: ...`` line with exit status 1.

    Click's own usage errors keep their exit status 2.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CostkitError as exc:
            raise click.ClickException(one_line(str(exc))) from exc


def one_line(text: str) -> str:
    """Join the lines of a message with spaces, so an error stays on one line."""
    return _WHITESPACE.sub(" ", text.strip())


def default_client_factory(database_url: str | None) -> Client:
    """Create a :class:`costkit.Client` from the configuration, with ``database_url`` if given."""
    from costkit._client import Client

    return Client(database_url=database_url)


def get_client(ctx: click.Context) -> Client:
    """Return the command's client, created on first use and closed when the command ends.

    The factory comes from ``ctx.obj["client_factory"]`` when the caller set one (tests do),
    else :func:`default_client_factory`.
    """
    obj = ctx.ensure_object(dict)
    client: Client | None = obj.get("client")
    if client is None:
        factory: ClientFactory = obj.get("client_factory") or default_client_factory
        client = factory(obj.get("database_url"))
        obj["client"] = client
        ctx.find_root().call_on_close(client.close)
    return client


def pricing_chain(client: Client) -> PricingChain:
    """Build a pricing chain over the client's plugins without creating the default database file.

    The database prices take part when a database is configured or the default SQLite file
    exists, as for ``costkit.calculate_cost``.
    """
    from costkit._chain import build_chain
    from costkit.db import open_configured_database

    settings = client.settings
    database = open_configured_database(settings, create=False)
    return build_chain(client.context.plugins, database, policy=settings.price_policy)


# --- Parameter types ---------------------------------------------------------------------


class DateTimeType(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """A ``YYYY-MM-DD`` date (its UTC midnight) or an ISO 8601 datetime (UTC when it has no offset)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            moment = value
        else:
            text = str(value).strip()
            # datetime.fromisoformat accepts a trailing Z only from Python 3.11.
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                self.fail(f"{value!r} is not a date; use YYYY-MM-DD or an ISO datetime such as 2025-06-01T12:00:00Z")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment


class DateType(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """A calendar day, ``YYYY-MM-DD``."""

    name = "yyyy-mm-dd"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD")


class DecimalType(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """An exact, finite, non-negative decimal number such as ``2.50``; never a float."""

    def __init__(self, name: str) -> None:
        self.name = name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(f"{value!r} is not a decimal number such as 2.50")
        if not number.is_finite() or number < 0:
            self.fail(f"{value!r} must be a finite, non-negative number")
        return number


class ThresholdsType(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.4
    """Comma-separated fractions of a budget's limit, such as ``0.5,0.75,0.9``."""

    name = "fractions"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[Decimal, ...]:
        if isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",") if part.strip()]
        if not parts:
            self.fail("give at least one threshold, such as 0.5,0.75,0.9")
        levels = []
        for part in parts:
            try:
                levels.append(Decimal(part))
            except InvalidOperation:
                self.fail(f"{part!r} is not a decimal fraction such as 0.75")
        return tuple(levels)


DATETIME: Final = DateTimeType()
DATE: Final = DateType()
AMOUNT: Final = DecimalType("usd")
RATE: Final = DecimalType("rate")
THRESHOLDS: Final = ThresholdsType()


# --- Output ------------------------------------------------------------------------------


def join_words(words: Sequence[str]) -> str:
    """Join words as a list in a sentence: ``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def money(amount: Decimal | None) -> str | None:
    """Format an exact amount in plain notation (``0.000027``), or keep ``None``."""
    return None if amount is None else format_amount(amount)


def iso(moment: datetime | date | None) -> str | None:
    """Format a date or datetime as ISO 8601, or keep ``None``."""
    return None if moment is None else moment.isoformat()


def usage_counts(usage: Usage) -> dict[str, Any]:
    """Return every count of ``usage`` (zeros included) with its estimate flag and reported cost."""
    return {
        **usage.as_counts(),
        "estimated": usage.estimated,
        "provider_reported_cost": money(usage.provider_reported_cost),
    }


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def make_console(*, stderr: bool = False) -> Console:
    """Create a rich console writing to standard output (or standard error)."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Rich lays tables out for 80 columns when the output is a file or a pipe, which folds
        # ids and amounts. Such outputs have no width limit, so tables get room instead.
        console.width = UNBOUNDED_WIDTH
    return console


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
    caption: str | None = None,
    numeric: Iterable[str] = (),
) -> None:
    """Print a rich table; columns named in ``numeric`` are right-aligned."""
    from rich.table import Table

    right = set(numeric)
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    make_console().print(table)
