"""The ledger database tables (peewee models) and their versioned migrations.

Models are declared once, unbound; :func:`bind_models` makes subclasses bound to one
database, so several databases (a SQLite file and a PostgreSQL server, say) can be open in
one process.

Money columns hold whole numbers of 10^-12 USD (:class:`MoneyField`): exact on SQLite and
PostgreSQL alike, and summed exactly by both. Prices carry at most six decimal places per
million tokens, so every cost is such a whole number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Final

import peewee

from costkit.errors import StorageError

__all__ = [
    "MIGRATIONS",
    "MONEY_EXPONENT",
    "SCHEMA_VERSION",
    "JSONField",
    "MoneyField",
    "bind_models",
    "money_from_units",
    "money_to_units",
]

ROLLUP_MICROS: Final = 900_000_000
"""The width of a spend rollup bucket: 15 minutes, in microseconds. Every current UTC offset is
a whole number of quarter hours, so local midnights, and with them the day, week and month
windows of budgets, start on a bucket boundary."""

MONEY_EXPONENT: Final = 12
"""Money is stored as an integer count of 10^-12 units of its currency."""


def money_to_units(value: Decimal) -> int:
    """Convert an amount to the stored integer units, refusing any loss of precision."""
    scaled = value.scaleb(MONEY_EXPONENT)
    units = int(scaled)
    if scaled != units:
        message = (
            f"the amount {value} has more than {MONEY_EXPONENT} decimal places and cannot be stored exactly; "
            "prices must carry at most 6 decimal places per million tokens"
        )
        raise StorageError(message)
    return units


def money_from_units(units: Any) -> Decimal:
    """Convert stored integer units (or a SUM of them) back to an exact Decimal amount."""
    if units is None:
        return Decimal(0)
    return Decimal(units).scaleb(-MONEY_EXPONENT)


class MoneyField(peewee.BigIntegerField):
    """An exact money amount, stored as integer units of 10^-12."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        return money_to_units(value)

    def python_value(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        return money_from_units(value)


class JSONField(peewee.TextField):
    """A JSON document in a text column (portable across SQLite and PostgreSQL)."""

    def db_value(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


class _Base(peewee.Model):
    class Meta:
        legacy_table_names = False


class MetaValue(_Base):
    key = peewee.CharField(primary_key=True, max_length=64)
    value = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_meta"


class PriceRow(_Base):
    provider = peewee.CharField(max_length=100)
    model = peewee.CharField(max_length=200)
    effective_from = peewee.DateField(null=True)
    effective_to = peewee.DateField(null=True)
    data = JSONField()
    updated_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_model_prices"
        indexes = ((("provider", "model"), False),)


class CostRecord(_Base):
    request_id = peewee.CharField(max_length=100, unique=True)
    created_at = peewee.BigIntegerField()
    recorded_at = peewee.BigIntegerField()
    user_id = peewee.CharField(max_length=200, null=True)
    project_id = peewee.CharField(max_length=200, null=True)
    organization_id = peewee.CharField(max_length=200, null=True)
    conversation_id = peewee.CharField(max_length=100, null=True)
    provider = peewee.CharField(max_length=100)
    model = peewee.CharField(max_length=200)
    requested_model = peewee.CharField(max_length=200)
    input_tokens = peewee.BigIntegerField(default=0)
    cached_input_tokens = peewee.BigIntegerField(default=0)
    cache_write_tokens = peewee.BigIntegerField(default=0)
    output_tokens = peewee.BigIntegerField(default=0)
    reasoning_tokens = peewee.BigIntegerField(default=0)
    audio_input_tokens = peewee.BigIntegerField(default=0)
    image_input_tokens = peewee.BigIntegerField(default=0)
    audio_output_tokens = peewee.BigIntegerField(default=0)
    image_output_tokens = peewee.BigIntegerField(default=0)
    tool_use_prompt_tokens = peewee.BigIntegerField(default=0)
    cost = MoneyField()
    currency = peewee.CharField(max_length=3, default="USD")
    price_source = peewee.CharField(max_length=300, null=True)
    price_version = peewee.CharField(max_length=300, null=True)
    free = peewee.BooleanField(default=False)
    unpriced = peewee.BooleanField(default=False)
    provider_reported_cost = peewee.CharField(max_length=64, null=True)
    service_tier = peewee.CharField(max_length=32, null=True)
    streamed = peewee.BooleanField(default=False)
    estimated = peewee.BooleanField(default=False)
    status = peewee.CharField(max_length=16, default="complete")
    metadata = JSONField(null=True)
    previous_cost = MoneyField(null=True)
    previous_price_source = peewee.CharField(max_length=300, null=True)
    repriced_at = peewee.BigIntegerField(null=True)

    class Meta:
        table_name = "costkit_cost_records"
        # The budget queries sum the cost of a scope in a time window; with the cost in the
        # index they read the index alone instead of one table row per request.
        indexes = (
            (("created_at", "model", "cost"), False),
            (("user_id", "created_at", "cost"), False),
            (("project_id", "created_at", "cost"), False),
            (("organization_id", "created_at", "cost"), False),
            (("conversation_id",), False),
        )


class Budget(_Base):
    scope = peewee.CharField(max_length=16)
    scope_id = peewee.CharField(max_length=200)
    window = peewee.CharField(max_length=16)
    limit = MoneyField()
    currency = peewee.CharField(max_length=3, default="USD")
    timezone = peewee.CharField(max_length=64, default="UTC")
    thresholds = JSONField()
    created_at = peewee.BigIntegerField()
    updated_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_budgets"
        indexes = ((("scope", "scope_id", "window"), True),)


class Reservation(_Base):
    request_id = peewee.CharField(max_length=100)
    scope = peewee.CharField(max_length=16)
    scope_id = peewee.CharField(max_length=200)
    amount = MoneyField()
    created_at = peewee.BigIntegerField()
    expires_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_reservations"
        indexes = (
            (("scope", "scope_id", "expires_at"), False),
            (("request_id",), False),
        )


class SpendRollup(_Base):
    scope = peewee.CharField(max_length=16)
    scope_id = peewee.CharField(max_length=200)
    bucket_start = peewee.BigIntegerField()
    amount = MoneyField()

    class Meta:
        table_name = "costkit_spend_rollups"
        indexes = ((("scope", "scope_id", "bucket_start"), True),)


class AlertSent(_Base):
    budget_id = peewee.IntegerField()
    window_start = peewee.BigIntegerField()
    threshold = peewee.CharField(max_length=16)
    sent_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_alerts_sent"
        indexes = ((("budget_id", "window_start", "threshold"), True),)


class Conversation(_Base):
    conversation_id = peewee.CharField(max_length=100, unique=True)
    title = peewee.CharField(max_length=300, null=True)
    user_id = peewee.CharField(max_length=200, null=True)
    project_id = peewee.CharField(max_length=200, null=True)
    organization_id = peewee.CharField(max_length=200, null=True)
    provider = peewee.CharField(max_length=100, null=True)
    model = peewee.CharField(max_length=200, null=True)
    system_prompt = peewee.TextField(null=True)
    metadata = JSONField(null=True)
    created_at = peewee.BigIntegerField()
    updated_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_conversations"


class ConversationMessage(_Base):
    conversation_id = peewee.CharField(max_length=100)
    position = peewee.IntegerField()
    role = peewee.CharField(max_length=16)
    content = peewee.TextField()
    request_id = peewee.CharField(max_length=100, null=True)
    provider = peewee.CharField(max_length=100, null=True)
    model = peewee.CharField(max_length=200, null=True)
    input_tokens = peewee.BigIntegerField(null=True)
    output_tokens = peewee.BigIntegerField(null=True)
    cost = MoneyField(null=True)
    created_at = peewee.BigIntegerField()

    class Meta:
        table_name = "costkit_conversation_messages"
        indexes = ((("conversation_id", "position"), True),)


MODELS: Final = (
    MetaValue,
    PriceRow,
    CostRecord,
    Budget,
    Reservation,
    SpendRollup,
    AlertSent,
    Conversation,
    ConversationMessage,
)


def bind_models(database: peewee.Database) -> SimpleNamespace:
    """Return subclasses of every model bound to ``database``, by model name."""
    bound = {}
    for model in MODELS:
        meta = type("Meta", (), {"database": database, "table_name": model._meta.table_name})
        bound[model.__name__] = type(model.__name__, (model,), {"Meta": meta, "__module__": __name__})
    return SimpleNamespace(**bound)


def _create_all(models: SimpleNamespace) -> None:
    database = models.MetaValue._meta.database
    database.create_tables([getattr(models, model.__name__) for model in MODELS], safe=True)
    for key in ("price_version",):
        models.MetaValue.insert(key=key, value=0).on_conflict_ignore().execute()


_SPEND_INDEXES: Final = (
    ("created_at", "model"),
    ("user_id", "created_at"),
    ("project_id", "created_at"),
    ("organization_id", "created_at"),
)
"""The ledger indexes of schema version 1 that version 2 extends with the cost column."""


def _index_cost(models: SimpleNamespace) -> None:
    """Add the cost to the ledger indexes that budget sums use, so the sums read only the index.

    A database created at version 2 already has the new indexes (the models declare them),
    so each statement is a no-op there.
    """
    database = models.CostRecord._meta.database
    table = models.CostRecord._meta.table_name
    for columns in _SPEND_INDEXES:
        old_name = "_".join((table, *columns))
        new_name = f"{old_name}_cost"
        column_list = ", ".join(f'"{column}"' for column in (*columns, "cost"))
        database.execute_sql(f'DROP INDEX IF EXISTS "{old_name}"')
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{new_name}" ON "{table}" ({column_list})')


ROLLUP_SCOPES: Final = (
    ("global", None),
    ("user", "user_id"),
    ("project", "project_id"),
    ("organization", "organization_id"),
)
"""Each budget scope and the ledger column holding its id (none for the global scope)."""


def _add_rollups(models: SimpleNamespace) -> None:
    """Create the spend rollups and fill them from the ledger rows already stored.

    Budget checks sum these quarter-hour buckets instead of every ledger row of a window, so
    their cost no longer grows with the number of requests.
    """
    database = models.CostRecord._meta.database
    database.create_tables([models.SpendRollup], safe=True)
    rollups = models.SpendRollup._meta.table_name
    records = models.CostRecord._meta.table_name
    database.execute_sql(f'DELETE FROM "{rollups}"')
    bucket = f'("created_at" / {ROLLUP_MICROS}) * {ROLLUP_MICROS}'
    for scope, column in ROLLUP_SCOPES:
        scope_id = f'"{column}"' if column else "''"
        where = f' WHERE "{column}" IS NOT NULL' if column else ""
        group = f'"{column}", {bucket}' if column else bucket
        database.execute_sql(
            f'INSERT INTO "{rollups}" ("scope", "scope_id", "bucket_start", "amount") '
            f'SELECT \'{scope}\', {scope_id}, {bucket}, SUM("cost") FROM "{records}"{where} GROUP BY {group}'
        )


MIGRATIONS: Final[tuple[Callable[[SimpleNamespace], None], ...]] = (_create_all, _index_cost, _add_rollups)
"""Migrations in order; migration ``n`` brings the schema from version ``n`` to ``n + 1``."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
