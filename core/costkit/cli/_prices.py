"""``costkit prices list|show|set|delete``: the prices in the database and the resolved ones."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from costkit.cli._common import (
    DATE,
    DATETIME,
    RATE,
    CostkitGroup,
    echo_json,
    get_client,
    iso,
    money,
    pricing_chain,
    print_table,
)

if TYPE_CHECKING:
    from costkit._price import ModelPrice

__all__ = ["load_price_file", "prices"]

RATE_LABELS: Final = (
    ("input", "input"),
    ("cached_input", "cached input"),
    ("cache_write", "cache write"),
    ("output", "output"),
    ("reasoning", "reasoning"),
    ("audio_input", "audio input"),
    ("audio_output", "audio output"),
    ("image_input", "image input"),
    ("image_output", "image output"),
)


@click.group(cls=CostkitGroup, short_help="List, show, set and delete model prices.")
def prices() -> None:
    """List, show, set and delete model prices (USD per million tokens)."""


@prices.command(name="list")
@click.option("--provider", help="Only this provider's prices.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON that `costkit prices set --file` reads back.")
@click.pass_context
def list_prices(ctx: click.Context, provider: str | None, as_json: bool) -> None:
    """List the prices stored in the database (not the plugins' built-in tables)."""
    from costkit._convert import unstructure

    stored = get_client(ctx).prices.list(provider)
    if as_json:
        echo_json([unstructure(price) for price in stored])
        return
    if not stored:
        click.echo("No prices in the database; add one with `costkit prices set`.")
        return
    rows = [
        [
            price.provider,
            price.model,
            money(price.input) or "",
            money(price.cached_input) or "",
            money(price.cache_write) or "",
            money(price.output) or "",
            money(price.reasoning) or "",
            iso(price.effective_from) or "",
            iso(price.effective_to) or "",
            "yes" if price.free else "",
        ]
        for price in stored
    ]
    rates = ("input", "cached input", "cache write", "output", "reasoning")
    print_table(
        ("provider", "model", *rates, "from", "until", "free"),
        rows,
        caption="Rates in USD per million tokens; an empty rate falls back to input or output",
        numeric=rates,
    )


@prices.command(name="show")
@click.argument("provider")
@click.argument("model")
@click.option("--at", type=DATETIME, help="Show the price in force at this time. Default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_price(ctx: click.Context, provider: str, model: str, at: datetime | None, as_json: bool) -> None:
    """Show the price the pricing chain uses for PROVIDER MODEL, and the source that has it.

    The chain looks in the database first, then the installed plugins' tables, and resolves
    dated, prefixed and aliased names (gpt-4o-mini-2024-07-18 finds gpt-4o-mini).
    """
    from costkit._convert import unstructure
    from costkit.errors import PriceNotFoundError
    from costkit.pricing import candidate_names

    chain = pricing_chain(get_client(ctx))
    resolution = chain.explain(provider, model, at=at)
    if resolution is None:
        source_names = tuple(getattr(source, "name", repr(source)) for source in chain.sources)
        when = at.isoformat() if at is not None else "now"
        message = (
            f"no price for {provider}/{model} in force at {when} (asked: {', '.join(source_names) or 'no sources'}; "
            f"names tried: {', '.join(candidate_names(provider, model))}); add one with "
            f"`costkit prices set --provider {provider} --model {model} --input RATE --output RATE`"
        )
        raise PriceNotFoundError(message, provider=provider, model=model, sources=source_names)

    price = resolution.price
    if as_json:
        echo_json({"provider": provider, "model": model, "source": resolution.source, "price": unstructure(price)})
        return
    click.echo(f"{provider}/{model}: {price.provider}/{price.model} from {resolution.source}")
    for line in _price_lines(price):
        click.echo(line)


def _price_lines(price: ModelPrice) -> list[str]:
    if price.free:
        return ["free: every token costs 0 USD"]
    lines = []
    for name, label in RATE_LABELS:
        rate = getattr(price, name)
        if rate is not None:
            lines.append(f"{label}: {money(rate)} {price.currency} per million tokens")
    for tier in price.tiers:
        above = "from" if tier.inclusive else "above"
        rates = ", ".join(
            f"{label} {money(getattr(tier, name))}" for name, label in RATE_LABELS if getattr(tier, name) is not None
        )
        lines.append(f"prompts {above} {tier.threshold} tokens: {rates}")
    for service_tier in price.service_tiers:
        rates = ", ".join(
            f"{label} {money(getattr(service_tier, name))}"
            for name, label in RATE_LABELS
            if getattr(service_tier, name) is not None
        )
        lines.append(f"service tier {service_tier.name}: {rates}")
    if price.aliases:
        lines.append(f"aliases: {', '.join(price.aliases)}")
    if price.effective_from is not None or price.effective_to is not None:
        lines.append(f"in force: {price.effective_from or 'always'} until {price.effective_to or 'further notice'}")
    return lines


@prices.command(name="set")
@click.option("--provider", help="The provider, such as openai.")
@click.option("--model", help="The model name the price is listed under.")
@click.option("--input", "input_rate", type=RATE, help="USD per million uncached input tokens.")
@click.option("--output", "output_rate", type=RATE, help="USD per million output tokens.")
@click.option("--cached-input", type=RATE, help="USD per million cached input tokens. Default: the input rate.")
@click.option("--cache-write", type=RATE, help="USD per million tokens written to the cache. Default: the input rate.")
@click.option("--reasoning", type=RATE, help="USD per million reasoning tokens. Default: the output rate.")
@click.option("--alias", "aliases", multiple=True, help="Another name that resolves to this price; repeatable.")
@click.option("--effective-from", type=DATE, help="First day (UTC) the price is in force. Default: always.")
@click.option("--effective-to", type=DATE, help="First day (UTC) the price is no longer in force. Default: open.")
@click.option("--free", is_flag=True, help="Declare the model free (a local model); no rates needed.")
@click.option(
    "--file",
    "price_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Set every price of a JSON file (an array) or TOML file ([[prices]] tables) instead.",
)
@click.pass_context
def set_price(
    ctx: click.Context,
    provider: str | None,
    model: str | None,
    input_rate: Decimal | None,
    output_rate: Decimal | None,
    cached_input: Decimal | None,
    cache_write: Decimal | None,
    reasoning: Decimal | None,
    aliases: tuple[str, ...],
    effective_from: date | None,
    effective_to: date | None,
    free: bool,
    price_file: Path | None,
) -> None:
    """Store a price in the database, where it wins over the plugins' tables.

    A price replaces the stored one of the same model and start date; one whose dates
    overlap another price of the model is rejected. A file's fields are those of
    costkit.ModelPrice; every bad entry is reported and nothing is stored unless all are valid.
    """
    flags = {
        "--provider": provider,
        "--model": model,
        "--input": input_rate,
        "--output": output_rate,
        "--cached-input": cached_input,
        "--cache-write": cache_write,
        "--reasoning": reasoning,
        "--effective-from": effective_from,
        "--effective-to": effective_to,
    }
    client = get_client(ctx)
    if price_file is not None:
        used = [name for name, value in flags.items() if value is not None] + (["--free"] if free else [])
        used += ["--alias"] if aliases else []
        if used:
            message = f"--file sets every field from the file; leave out {', '.join(used)}"
            raise click.UsageError(message)
        entries = load_price_file(price_file)
        _store_all(client, entries)
        for price in entries:
            click.echo(f"Stored the price of {price.provider}/{price.model}{_range(price)}.")
        return

    missing = [name for name in ("--provider", "--model") if flags[name] is None]
    if not free:
        missing += [name for name in ("--input", "--output") if flags[name] is None]
    if missing:
        message = f"missing {', '.join(missing)}; give them, or --free for a free model, or --file"
        raise click.UsageError(message)

    from costkit._price import ModelPrice

    assert provider is not None and model is not None
    rates: dict[str, Any] = {
        "input": input_rate,
        "output": output_rate,
        "cached_input": cached_input,
        "cache_write": cache_write,
        "reasoning": reasoning,
    }
    price = ModelPrice(
        provider=provider,
        model=model,
        **{name: rate for name, rate in rates.items() if rate is not None},
        aliases=aliases,
        effective_from=effective_from,
        effective_to=effective_to,
        free=free,
    )
    client.prices.set(price)
    click.echo(f"Stored the price of {price.provider}/{price.model}{_range(price)}.")
    for line in _price_lines(price):
        click.echo(line)


def _range(price: ModelPrice) -> str:
    if price.effective_from is None and price.effective_to is None:
        return ""
    return f" ({price.effective_from or 'always'} until {price.effective_to or 'further notice'})"


def _store_all(client: Any, entries: list[ModelPrice]) -> None:
    """Store every price in one transaction; on any rejection, store none and report them all."""
    from costkit.errors import PricingError

    database = client.context.database
    store = client.prices
    problems: list[str] = []
    with database.write_transaction():
        for index, price in enumerate(entries):
            try:
                store.set(price)
            except PricingError as exc:
                problems.append(f"entry {index} ({price.provider}/{price.model}): {exc}")
        if problems:
            # Leaving the transaction with an exception rolls back the prices already stored.
            message = f"stored none of the {len(entries)} prices: " + "; ".join(problems)
            raise PricingError(message)


def load_price_file(path: Path) -> list[ModelPrice]:
    """Read the prices of a JSON or TOML file, checking every entry.

    JSON: an array of price objects (or an object with a ``prices`` array). TOML: ``[[prices]]``
    tables. Numbers are read as exact decimals, never as floats.

    Raises:
        PricingError: The file cannot be parsed, or entries are invalid; the message lists every one.
    """
    from costkit.errors import PricingError

    data = _read_price_data(path)
    if isinstance(data, dict) and set(data) == {"prices"}:
        data = data["prices"]
    if not isinstance(data, list):
        message = f"{path} must hold a list of prices: a JSON array, or [[prices]] tables in TOML"
        raise PricingError(message)

    entries: list[ModelPrice] = []
    problems: list[str] = []
    for index, item in enumerate(data):
        price, errors = _structure_price(item)
        if price is not None:
            entries.append(price)
            continue
        label = _entry_label(item)
        problems.extend(f"entry {index}{label}: {error}" for error in errors)
    if problems:
        message = f"{path} has {len(problems)} invalid field(s), so no price was stored: " + "; ".join(problems)
        raise PricingError(message)
    if not entries:
        message = f"{path} contains no prices"
        raise PricingError(message)
    return entries


def _read_price_data(path: Path) -> Any:
    from costkit.errors import PricingError

    text = path.read_bytes()
    if path.suffix.lower() == ".toml":
        import sys

        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised on Python 3.10 only
            import tomli as tomllib  # type: ignore[import-not-found, no-redef]
        try:
            table = tomllib.loads(text.decode("utf-8"), parse_float=Decimal)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            message = f"{path} is not valid TOML: {exc}"
            raise PricingError(message) from exc
        return table.get("prices", table)
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        message = f"{path} is not valid JSON: {exc}; use a .toml suffix for TOML files"
        raise PricingError(message) from exc


def _entry_label(item: Any) -> str:
    if isinstance(item, dict) and item.get("provider") and item.get("model"):
        return f" ({item['provider']}/{item['model']})"
    return ""


def _structure_price(item: Any) -> tuple[ModelPrice | None, list[str]]:
    import cattrs

    from costkit._convert import structure
    from costkit._price import ModelPrice
    from costkit.errors import CostkitError

    if not isinstance(item, dict):
        return None, [f"expected a table of price fields, got {item!r}"]
    try:
        return structure(item, ModelPrice), []
    except cattrs.BaseValidationError as exc:
        errors = cattrs.transform_error(exc, format_exception=_describe_error)
        return None, [_field_first(error) for error in errors]
    except (CostkitError, ValueError, TypeError) as exc:
        return None, [str(exc)]


def _field_first(error: str) -> str:
    """Turn cattrs' ``message @ $.field`` into ``field: message``."""
    message, _, path = error.rpartition(" @ $")
    if not message:
        return error
    field = path.lstrip(".")
    return f"{field}: {message}" if field else message


def _describe_error(exc: BaseException, expected: Any) -> str:
    import decimal

    from cattrs.errors import ForbiddenExtraKeysError

    from costkit.errors import CostkitError

    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s) {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, decimal.InvalidOperation):
        return "not a decimal number"
    if isinstance(exc, (CostkitError, ValueError, TypeError)):
        return str(exc)
    return repr(exc)


@prices.command(name="delete")
@click.argument("provider")
@click.argument("model")
@click.option("--effective-from", type=DATE, help="Delete only the price starting on this day.")
@click.pass_context
def delete_price(ctx: click.Context, provider: str, model: str, effective_from: date | None) -> None:
    """Delete the stored prices of PROVIDER MODEL; the plugins' tables then apply again."""
    from costkit.errors import PricingError

    deleted = get_client(ctx).prices.delete(provider, model, effective_from=effective_from)
    if not deleted:
        start_note = f" starting on {effective_from}" if effective_from is not None else ""
        message = f"the database has no price of {provider}/{model}{start_note}; see them with `costkit prices list`"
        raise PricingError(message)
    noun = "price" if deleted == 1 else "prices"
    click.echo(f"Deleted {deleted} {noun} of {provider}/{model}.")
