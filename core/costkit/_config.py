"""Settings from arguments, environment variables and config files.

Precedence, highest first:

1. arguments given to :class:`costkit.Client`;
2. environment variables: ``COSTKIT_DATABASE_URL``, ``COSTKIT_PRICE_POLICY``,
   ``COSTKIT_MIDDLEWARE`` (comma-separated names);
3. one config file, the first found of: the file named by ``COSTKIT_CONFIG``,
   ``costkit.toml`` in the working directory, ``[tool.costkit]`` of ``pyproject.toml`` in the
   working directory;
4. the defaults below.

Provider options (``[providers.openai]``...) are passed to the provider's driver, which falls
back to the provider's own environment variables (``OPENAI_API_KEY``...) for options that
neither the client nor the file set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs

from costkit.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["DEFAULT_MIDDLEWARE", "BudgetSettings", "Settings", "load_settings", "read_config_file"]

DEFAULT_MIDDLEWARE: Final = ("budget-enforcement", "cost-tracking")
"""Global middleware when nothing is configured, outermost first."""

UNKNOWN_PRICE_POLICIES: Final = ("block", "estimate", "allow")
DATABASE_ERROR_POLICIES: Final = ("block", "allow")


def _positive_int(name: str) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            message = f"{name} must be a positive int, got {value!r}"
            raise ConfigurationError(message)

    return check


def _one_of(name: str, choices: Sequence[str]) -> Any:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if value not in choices:
            message = f"{name} must be one of {', '.join(choices)}; got {value!r}"
            raise ConfigurationError(message)

    return check


def _to_optional_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        return Decimal(value)
    message = f"budget.fallback_rate must be a decimal string such as '10', got {value!r}"
    raise ConfigurationError(message)


@attrs.frozen
class BudgetSettings:
    """The estimation and fallback settings of ``budget-enforcement``."""

    default_max_output_tokens: int = attrs.field(
        default=4096, validator=_positive_int("budget.default_max_output_tokens")
    )
    "Output tokens reserved for a request that sets no ``max_output_tokens``."
    unknown_price_policy: str = attrs.field(
        default="block", validator=_one_of("budget.unknown_price_policy", UNKNOWN_PRICE_POLICIES)
    )
    """For a model with no price: ``block`` the request, ``estimate`` at ``fallback_rate``, or ``allow``.

    Only takes effect with ``price_policy = "warn"``: under the default ``"raise"``,
    ``cost-tracking`` rejects an unpriced model before the budget is consulted."""
    fallback_rate: Decimal | None = attrs.field(default=None, converter=_to_optional_decimal)
    "USD per million tokens (input and output) used by ``unknown_price_policy = 'estimate'``."
    reservation_ttl_seconds: int = attrs.field(default=900, validator=_positive_int("budget.reservation_ttl_seconds"))
    "Seconds after which a reservation whose holder died stops counting."
    database_error_policy: str = attrs.field(
        default="block", validator=_one_of("budget.database_error_policy", DATABASE_ERROR_POLICIES)
    )
    "When the budget tables cannot be read: ``block`` the request (safe), or ``allow`` it."


@attrs.frozen
class Settings:
    """Every costkit setting, resolved from arguments, environment and config file."""

    database_url: str | None = None
    "The ledger database; ``None`` means the default SQLite file in the user data directory."
    middleware: tuple[str, ...] = DEFAULT_MIDDLEWARE
    "Global middleware names, outermost first."
    middleware_options: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    "Options per middleware name, passed to its constructor."
    price_policy: str = attrs.field(default="raise", validator=_one_of("price_policy", ("raise", "warn")))
    "For a model no source prices: ``raise`` PriceNotFoundError or ``warn`` and record it unpriced."
    price_cache_seconds: float = 1.0
    "Seconds between reads of the database's price change counter."
    providers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    "Options per provider, passed to its driver (``base_url``, ``timeout``...)."
    budget: BudgetSettings = attrs.field(factory=BudgetSettings)
    "Budget enforcement settings."
    journal_path: str | None = None
    "Where ledger rows wait when the database is unreachable; defaults beside the SQLite file."
    source: str | None = None
    "The config file the settings were read from, if any."


_TOP_LEVEL_KEYS: Final = {
    "database_url",
    "middleware",
    "middleware_options",
    "price_policy",
    "price_cache_seconds",
    "providers",
    "budget",
    "journal_path",
}
_BUDGET_KEYS: Final = {field.name for field in attrs.fields(BudgetSettings)}


def read_config_file(directory: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """Read the first config file found (see the module docstring); return its table and path."""
    explicit = os.environ.get("COSTKIT_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            message = f"COSTKIT_CONFIG names {explicit!r}, which is not a file; fix the path or unset the variable"
            raise ConfigurationError(message)
        return _load_toml(path), str(path)
    directory = directory or Path.cwd()
    candidate = directory / "costkit.toml"
    if candidate.is_file():
        return _load_toml(candidate), str(candidate)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        table = _load_toml(pyproject).get("tool", {}).get("costkit")
        if isinstance(table, dict):
            return table, f"{pyproject} [tool.costkit]"
    return {}, None


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            table: dict[str, Any] = tomllib.load(file)
            return table
    except tomllib.TOMLDecodeError as exc:
        message = f"the config file {str(path)!r} is not valid TOML: {exc}"
        raise ConfigurationError(message) from exc


def _check_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        message = f"unknown setting(s) {', '.join(map(repr, unknown))} in {where}; known: {', '.join(sorted(known))}"
        raise ConfigurationError(message)


def _check_types(values: Mapping[str, Any], where: str) -> None:
    problems = []
    for key in ("database_url", "journal_path"):
        value = values.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{key} must be a string, got {value!r}")
    seconds = values.get("price_cache_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
        problems.append(f"price_cache_seconds must be a number of seconds >= 0, got {seconds!r}")
    for key in ("providers", "middleware_options"):
        table = values.get(key)
        if table is None:
            continue
        if not isinstance(table, Mapping) or not all(isinstance(item, Mapping) for item in table.values()):
            problems.append(f"{key} must be a table of tables such as [{key}.NAME], got {table!r}")
    if problems:
        message = f"invalid settings in {where}: " + "; ".join(problems)
        raise ConfigurationError(message)


def load_settings(**overrides: Any) -> Settings:
    """Resolve the settings; keyword arguments that are not ``None`` win over everything else."""
    table, source = read_config_file()
    where = source or "the settings"
    _check_keys(table, _TOP_LEVEL_KEYS, where)
    values: dict[str, Any] = {key: value for key, value in table.items() if key != "budget"}
    budget_table = dict(table.get("budget", {}))
    _check_keys(budget_table, _BUDGET_KEYS, f"[budget] of {where}")

    environment: dict[str, Any] = {
        "database_url": os.environ.get("COSTKIT_DATABASE_URL") or None,
        "price_policy": os.environ.get("COSTKIT_PRICE_POLICY") or None,
    }
    middleware_env = os.environ.get("COSTKIT_MIDDLEWARE", "")
    names = [name.strip() for name in middleware_env.split(",") if name.strip()]
    # An empty variable (a blank line in a .env file) means unset, as for COSTKIT_DATABASE_URL;
    # turning every middleware off takes Client(disable_middleware=True).
    if names:
        environment["middleware"] = names
    values.update({key: value for key, value in environment.items() if value is not None})

    budget_override = overrides.pop("budget", None)
    if isinstance(budget_override, Mapping):
        _check_keys(budget_override, _BUDGET_KEYS, "the budget argument")
        budget_table.update(budget_override)
    _check_keys({k: v for k, v in overrides.items() if v is not None}, _TOP_LEVEL_KEYS, "the arguments")
    values.update({key: value for key, value in overrides.items() if value is not None})

    if "middleware" in values:
        middleware = values["middleware"]
        if isinstance(middleware, str) or not isinstance(middleware, Sequence):
            message = f"middleware must be a list of names, got {middleware!r}"
            raise ConfigurationError(message)
        repeated = sorted({name for name in middleware if list(middleware).count(name) > 1})
        if repeated:
            message = f"middleware lists {', '.join(map(repr, repeated))} more than once in {where}; list each once"
            raise ConfigurationError(message)
        values["middleware"] = tuple(middleware)
    _check_types(values, where)
    budget = budget_override if isinstance(budget_override, BudgetSettings) else BudgetSettings(**budget_table)
    return Settings(**values, budget=budget, source=source)
