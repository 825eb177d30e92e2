"""The cost ledger: one exact row per request, reports over them, and the cost-tracking middleware.

Writes are idempotent on the request id. When the database cannot be written, the row goes to
an append-only journal file (JSON lines) and a warning is logged; the journal is replayed on
the next successful write, and by ``costkit ledger replay``. Replaying inserts each row at most
once, so nothing is counted twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
from peewee import fn

from costkit._models import CostCalculated
from costkit._usage import COUNT_FIELDS, Usage
from costkit.db.schema import ROLLUP_MICROS, ROLLUP_SCOPES, money_from_units, money_to_units
from costkit.errors import ConfigurationError, CostkitError, StorageError
from costkit.middleware import Call, Middleware

if TYPE_CHECKING:
    from costkit._models import Request, Response
    from costkit._price import CostBreakdown
    from costkit.db import Database
    from costkit.pricing import PricingChain

__all__ = [
    "GROUPS",
    "CostTrackingMiddleware",
    "Journal",
    "Ledger",
    "LedgerRecord",
    "ReportRow",
    "RepriceResult",
    "drop_broken_connection",
    "to_micros",
]

logger = logging.getLogger(__name__)

GROUPS: Final = (
    "provider",
    "model",
    "user",
    "project",
    "organization",
    "conversation",
    "day",
    "week",
    "month",
)
"""The groupings of ``Ledger.report``; ``day``, ``week`` and ``month`` are UTC calendar periods."""

_GROUP_ALIASES: Final = {"organisation": "organization", "user_id": "user", "project_id": "project"}
_MICROS_PER_DAY: Final = 86_400_000_000
_INSERT_BATCH: Final = 1000
"""Rows per multi-row INSERT."""
_SQLITE_MAX_PARAMETERS: Final = 32_766
"""The default SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32."""
_OLD_SQLITE_MAX_PARAMETERS: Final = 999
"""The default SQLITE_MAX_VARIABLE_NUMBER before SQLite 3.32."""
_POSTGRESQL_MAX_PARAMETERS: Final = 65_535
"""The maximum number of bind parameters in one PostgreSQL statement."""
_DELETE_BATCH: Final = 500
_ROLLUP_BATCH: Final = 200
_MISSING: Final = object()


def to_micros(moment: datetime | date) -> int:
    """Convert a datetime (naive means UTC) or a date (its UTC midnight) to microseconds since the epoch."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Convert microseconds since the epoch to an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=micros)


@attrs.frozen
class ReportRow:
    """One group of a ledger report."""

    group: str | None
    "The group's value (a provider, a model, a user id, an ISO date...); ``None`` for rows without one."
    requests: int
    "How many requests."
    input_tokens: int
    "The sum of their input tokens."
    output_tokens: int
    "The sum of their output tokens."
    cost: Decimal
    "The exact sum of their cost."
    cached_input_tokens: int = 0
    "The sum of their cached input tokens."
    reasoning_tokens: int = 0
    "The sum of their reasoning tokens."


@attrs.frozen
class LedgerRecord:
    """One ledger row, as read back."""

    request_id: str
    "The request id (unique in the ledger)."
    created_at: datetime
    "When the request was made (UTC)."
    provider: str
    "The provider."
    model: str
    "The model that answered."
    usage: Usage
    "The token counts."
    cost: Decimal
    "The cost."
    currency: str
    "The currency of ``cost``."
    price_source: str | None
    "Where the price came from."
    user_id: str | None = None
    "The user."
    project_id: str | None = None
    "The project."
    organization_id: str | None = None
    "The organisation."
    conversation_id: str | None = None
    "The conversation."
    free: bool = False
    "True when the model is free by declaration."
    unpriced: bool = False
    "True when no price was found (``warn`` policy)."
    streamed: bool = False
    "True for streamed responses."
    estimated: bool = False
    "True when the usage was estimated."
    status: str = "complete"
    "``complete``, ``closed`` (stream closed early) or ``interrupted``."
    provider_reported_cost: Decimal | None = None
    "The provider's own statement of the charge."
    previous_cost: Decimal | None = None
    "The cost before the last reprice."
    previous_price_source: str | None = None
    "The price source before the last reprice."
    metadata: dict[str, Any] = attrs.field(factory=dict)
    "The request's metadata."


@attrs.frozen
class RepriceResult:
    """The counts and totals of one ``Ledger.reprice`` run."""

    examined: int
    "Rows looked at."
    changed: int
    "Rows whose cost or price source changed."
    previous_total: Decimal
    "The sum of the examined rows before."
    new_total: Decimal
    "The sum of the examined rows after."


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _lock_file(file: Any) -> None:
    # Processes sharing one journal take turns; on Windows only the thread lock applies.
    # NOTE: without fcntl (Windows), two processes replaying one journal may interleave.
    if fcntl is not None:
        fcntl.flock(file, fcntl.LOCK_EX)


def _unlock_file(file: Any) -> None:
    if fcntl is not None:
        fcntl.flock(file, fcntl.LOCK_UN)


class Journal:
    """An append-only file of ledger rows that could not be written to the database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a+", encoding="utf-8") as file:
            _lock_file(file)
            try:
                yield file
            finally:
                _unlock_file(file)

    def append(self, row: dict[str, Any]) -> None:
        """Append one row and flush it to disk."""
        line = json.dumps(row, default=str, sort_keys=True)
        with self._locked() as file:
            file.write(line + "\n")
            file.flush()
            os.fsync(file.fileno())

    def pending(self) -> bool:
        """Tell whether rows are waiting to be replayed."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def drain(self, write: Callable[[list[dict[str, Any]]], None]) -> int:
        """Hand every waiting row to ``write``; empty the file only when ``write`` succeeded."""
        if not self.pending():
            return 0
        with self._locked() as file:
            file.seek(0)
            rows = [json.loads(line) for line in file if line.strip()]
            if not rows:
                return 0
            write(rows)
            file.truncate(0)
        return len(rows)


def _row_from_response(request: Request, response: Response, cost: CostBreakdown) -> dict[str, Any]:
    usage = response.usage or Usage()
    price = cost.price
    version = None
    if price is not None:
        version = f"{price.model}@{price.effective_from.isoformat() if price.effective_from else 'always'}"
    return {
        "request_id": request.request_id,
        "created_at": to_micros(request.created_at),
        "user_id": request.user_id,
        "project_id": request.project_id,
        "organization_id": request.organization_id,
        "conversation_id": request.conversation_id,
        "provider": request.provider,
        "model": response.model or request.model,
        "requested_model": request.model,
        **usage.as_counts(),
        "cost": str(cost.total),
        "currency": cost.currency,
        "price_source": cost.source,
        "price_version": version,
        "free": cost.free,
        "unpriced": cost.unpriced,
        "provider_reported_cost": str(usage.provider_reported_cost)
        if usage.provider_reported_cost is not None
        else None,
        "service_tier": request.service_tier,
        "streamed": response.streamed,
        "estimated": usage.estimated,
        "status": response.status,
        "metadata": dict(request.metadata),
    }


def _usage_of(row: Any) -> Usage:
    return Usage(
        **{name: getattr(row, name) for name in COUNT_FIELDS},
        estimated=bool(row.estimated),
        provider_reported_cost=Decimal(row.provider_reported_cost) if row.provider_reported_cost else None,
    )


class _InsertPlan:
    """The SQL of ledger writes for one database, built once.

    The SQL is written here because peewee's query builder takes longer to build a multi-row
    INSERT than the database takes to run it, and every request writes a row.
    """

    def __init__(self, database: Database) -> None:
        engine = database.peewee
        table = database.models.CostRecord
        columns = [field for field in table._meta.sorted_fields if field is not table._meta.primary_key]
        self.fields = [(field.name, field.default, field.db_value) for field in columns]
        self.batch_size = _batch_size(database.kind, len(columns))
        quote_open, quote_close = engine.quote[0], engine.quote[1]
        names = ", ".join(f"{quote_open}{field.column_name}{quote_close}" for field in columns)
        self._placeholders = "(" + ", ".join([engine.param] * len(columns)) + ")"
        self._param = engine.param
        self._insert_head = f"INSERT INTO {quote_open}{table._meta.table_name}{quote_close} ({names}) VALUES "
        # ON CONFLICT on the request id only: SQLite's INSERT OR IGNORE would also drop rows
        # that break a NOT NULL constraint, without an error.
        self._insert_tail = f" ON CONFLICT ({quote_open}request_id{quote_close}) DO NOTHING"
        self._returning = ' RETURNING "created_at", "cost", "user_id", "project_id", "organization_id"'
        rollups = f"{quote_open}{database.models.SpendRollup._meta.table_name}{quote_close}"
        self._rollup_head = f'INSERT INTO {rollups} ("scope", "scope_id", "bucket_start", "amount") VALUES '
        self._rollup_values = "(" + ", ".join([engine.param] * 4) + ")"
        self._rollup_tail = (
            ' ON CONFLICT ("scope", "scope_id", "bucket_start") '
            f'DO UPDATE SET "amount" = {rollups}."amount" + excluded."amount"'
        )
        reservations = database.models.Reservation._meta.table_name
        self._delete_head = (
            f"DELETE FROM {quote_open}{reservations}{quote_close} WHERE {quote_open}request_id{quote_close} IN ("
        )

    def insert(self, rows: int) -> str:
        """Return the INSERT of ``rows`` rows, returning the time, cost and scope ids of those inserted."""
        return self._insert_head + ", ".join([self._placeholders] * rows) + self._insert_tail + self._returning

    def add_spend(self, buckets: int) -> str:
        """Return the upsert adding amounts to ``buckets`` spend rollups (scope, id, bucket, units each)."""
        return self._rollup_head + ", ".join([self._rollup_values] * buckets) + self._rollup_tail

    def insert_settling(self) -> str:
        """Return one PostgreSQL statement that records one row, adds it to the rollups and settles it.

        The parameters are the row's values, then the request id of the reservations to delete.
        """
        selects = " UNION ALL ".join(
            f"SELECT '{scope}' AS scope, {column or chr(39) * 2} AS scope_id, created_at, cost FROM inserted"
            + (f" WHERE {column} IS NOT NULL" if column else "")
            for scope, column in ROLLUP_SCOPES
        )
        return (
            f"WITH inserted AS ({self.insert(1)}), "
            f"settled AS ({self.delete_reservations(1)}), "
            f"spend AS ({selects}) "
            f"{self._rollup_head.removesuffix('VALUES ')}"
            f"SELECT scope, scope_id, (created_at / {ROLLUP_MICROS}) * {ROLLUP_MICROS}, cost FROM spend"
            f"{self._rollup_tail}"
        )

    def delete_reservations(self, request_ids: int) -> str:
        """Return the DELETE of the reservations of ``request_ids`` requests."""
        return self._delete_head + ", ".join([self._param] * request_ids) + ")"


class Ledger:
    """The cost records in one database.

    Args:
        database: The ledger database.
        chain: The pricing chain used by :meth:`reprice`.
        journal_path: Where rows wait when the database is unreachable; defaults to
            ``journal.jsonl`` beside the SQLite file, or in the user data directory.
    """

    def __init__(
        self, database: Database, *, chain: PricingChain | None = None, journal_path: str | None = None
    ) -> None:
        self.database = database
        self.chain = chain
        self.journal = Journal(Path(journal_path) if journal_path else _default_journal(database))
        self._plan: _InsertPlan | None = None

    # --- Writing ---------------------------------------------------------------------------

    def record(self, request: Request, response: Response, cost: CostBreakdown) -> bool:
        """Write one row for the request; idempotent on the request id.

        Also removes the request's budget reservations in the same transaction. When the
        database fails, the row goes to the journal instead and ``False`` is returned.
        """
        row = _row_from_response(request, response, cost)
        try:
            self._insert([row])
        except StorageError as exc:
            drop_broken_connection(self.database)
            self.journal.append(row)
            logger.warning(
                "Could not write request %s to the ledger (%s); kept it in the journal %s for replay",
                request.request_id,
                exc,
                self.journal.path,
            )
            return False
        if self.journal.pending():
            # The row itself is stored. A journal that still cannot be replayed must not fail the
            # caller's request, so it waits for the next write or `costkit ledger replay`.
            try:
                self.replay()
            except StorageError as exc:
                logger.warning("Could not replay the ledger journal %s: %s", self.journal.path, exc)
        return True

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows (skipping request ids already stored) and delete their reservations, in one transaction.

        The SQL is written here because peewee's query builder takes longer to build a
        multi-row INSERT than the database takes to run it, and journal replays and imports
        can carry many rows.
        """
        engine = self.database.peewee
        plan = self._insert_plan()
        now = time.time_ns() // 1000
        parameters = [_parameters(plan.fields, {**row, "recorded_at": now}) for row in rows]
        self.database.ensure_schema()
        if len(rows) == 1 and self.database.kind == "postgresql" and not engine.in_transaction():
            # One statement is atomic on its own: the row, its spend rollups and the removal
            # of its reservation commit together, in one round trip instead of six.
            with self.database.errors("write a cost record"):
                statement = self.database.prepared(plan.insert_settling())
                engine.execute_sql(statement, [*parameters[0], rows[0]["request_id"]])
            return
        with self.database.errors("write cost records"), self.database.write_transaction():
            spend: dict[tuple[str, str, int], int] = {}
            for start in range(0, len(parameters), plan.batch_size):
                batch = parameters[start : start + plan.batch_size]
                # RETURNING lists only the rows inserted, not those already stored, so a
                # replayed row never adds to the rollups twice.
                cursor = engine.execute_sql(plan.insert(len(batch)), [value for row in batch for value in row])
                for created_at, units, *scope_ids in cursor.fetchall():
                    bucket = created_at - created_at % ROLLUP_MICROS
                    for (scope, _column), scope_id in zip(ROLLUP_SCOPES, [None, *scope_ids], strict=True):
                        if scope == "global" or scope_id is not None:
                            key = (scope, scope_id or "", bucket)
                            spend[key] = spend.get(key, 0) + units
            items = list(spend.items())
            for start in range(0, len(items), _ROLLUP_BATCH):
                chunk = items[start : start + _ROLLUP_BATCH]
                values = [
                    value for (scope, scope_id, bucket), units in chunk for value in (scope, scope_id, bucket, units)
                ]
                engine.execute_sql(plan.add_spend(len(chunk)), values)
            request_ids = [row["request_id"] for row in rows]
            for start in range(0, len(request_ids), _DELETE_BATCH):
                chunk_ids = request_ids[start : start + _DELETE_BATCH]
                engine.execute_sql(plan.delete_reservations(len(chunk_ids)), chunk_ids)

    def _adjust_spend(self, row: Any, delta: Decimal) -> None:
        """Add ``delta`` to the spend rollups of a ledger row (inside the caller's transaction)."""
        if not delta:
            return
        units = money_to_units(delta)
        bucket = row.created_at - row.created_at % ROLLUP_MICROS
        values = []
        for scope, column in ROLLUP_SCOPES:
            scope_id = getattr(row, column) if column else ""
            if scope_id is not None:
                values += [scope, scope_id, bucket, units]
        self.database.peewee.execute_sql(self._insert_plan().add_spend(len(values) // 4), values)

    def _insert_plan(self) -> _InsertPlan:
        plan = self._plan
        if plan is None:
            plan = self._plan = _InsertPlan(self.database)
        return plan

    def replay(self) -> int:
        """Write the journal's rows to the database (each at most once); return how many were replayed.

        Raises:
            StorageError: The database is still unreachable; the journal is kept.
        """
        count = self.journal.drain(self._insert)
        if count:
            logger.info("Replayed %d journal rows into the ledger", count)
        return count

    # --- Reading ---------------------------------------------------------------------------

    def _where(self, since: datetime | date | None, until: datetime | date | None, **filters: str | None) -> Any:
        table = self.database.models.CostRecord
        condition = True
        if since is not None:
            condition = (table.created_at >= to_micros(since)) & condition
        if until is not None:
            condition = (table.created_at < to_micros(until)) & condition
        for name, value in filters.items():
            if value is not None:
                condition = (getattr(table, name) == value) & condition
        return condition

    def report(
        self,
        group_by: str = "provider",
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        provider: str | None = None,
        model: str | None = None,
        user_id: str | None = None,
        project_id: str | None = None,
        organization_id: str | None = None,
        conversation_id: str | None = None,
    ) -> list[ReportRow]:
        """Sum requests, tokens and exact cost per group, for requests made in ``[since, until)``.

        Args:
            group_by: One of :data:`GROUPS`.
            since: First instant included (a date means its UTC midnight).
            until: First instant excluded.
            provider: Only this provider's requests; likewise the other filters.

        Returns:
            One row per group, sorted by cost (highest first), then group.
        """
        group = _GROUP_ALIASES.get(group_by, group_by)
        if group not in GROUPS:
            message = f"cannot group a report by {group_by!r}; choose one of {', '.join(GROUPS)}"
            raise ConfigurationError(message)
        table = self.database.models.CostRecord
        key = _group_expression(table, group)
        condition = self._where(
            since,
            until,
            provider=provider,
            model=model,
            user_id=user_id,
            project_id=project_id,
            organization_id=organization_id,
            conversation_id=conversation_id,
        )
        query = (
            table.select(
                key.alias("key"),
                fn.COUNT(table.id).alias("requests"),
                fn.SUM(table.input_tokens).alias("input_tokens"),
                fn.SUM(table.output_tokens).alias("output_tokens"),
                fn.SUM(table.cached_input_tokens).alias("cached_input_tokens"),
                fn.SUM(table.reasoning_tokens).alias("reasoning_tokens"),
                fn.SUM(table.cost).alias("cost"),
            )
            .where(condition)
            .group_by(key)
            .tuples()
        )
        self.database.ensure_schema()
        with self.database.errors("build a report"):
            raw = list(query)
        rows = [
            ReportRow(
                group=_group_label(group, key_value),
                requests=int(requests),
                input_tokens=int(input_tokens or 0),
                output_tokens=int(output_tokens or 0),
                cost=money_from_units(cost),
                cached_input_tokens=int(cached or 0),
                reasoning_tokens=int(reasoning or 0),
            )
            for key_value, requests, input_tokens, output_tokens, cached, reasoning, cost in raw
        ]
        if group == "month":
            rows = _merge_months(rows)
        if group in ("day", "week", "month"):
            return sorted(rows, key=lambda row: row.group or "")
        return sorted(rows, key=lambda row: (-row.cost, row.group or ""))

    def trend(
        self,
        period: str = "day",
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        **filters: str | None,
    ) -> list[ReportRow]:
        """Spend per ``day``, ``week`` (from Monday) or ``month`` (UTC), oldest first."""
        if period not in ("day", "week", "month"):
            message = f"a trend period must be 'day', 'week' or 'month', got {period!r}"
            raise ConfigurationError(message)
        return self.report(period, since=since, until=until, **filters)

    def total(self, *, since: datetime | date | None = None, until: datetime | date | None = None) -> Decimal:
        """Return the exact cost of every request in ``[since, until)``."""
        table = self.database.models.CostRecord
        self.database.ensure_schema()
        with self.database.errors("sum the ledger"):
            value = table.select(fn.SUM(table.cost)).where(self._where(since, until)).scalar()
        return money_from_units(value)

    def records(
        self,
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int | None = None,
        **filters: str | None,
    ) -> list[LedgerRecord]:
        """Return ledger rows in ``[since, until)``, oldest first."""
        table = self.database.models.CostRecord
        query = table.select().where(self._where(since, until, **filters)).order_by(table.created_at, table.id)
        if limit is not None:
            query = query.limit(limit)
        self.database.ensure_schema()
        with self.database.errors("read cost records"):
            return [_record(row) for row in query]

    def get(self, request_id: str) -> LedgerRecord | None:
        """Return the row of one request, or ``None``."""
        table = self.database.models.CostRecord
        self.database.ensure_schema()
        with self.database.errors("read a cost record"):
            row = table.get_or_none(table.request_id == request_id)
        return _record(row) if row is not None else None

    # --- Repricing -------------------------------------------------------------------------

    def reprice(
        self,
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> RepriceResult:
        """Recompute the cost of rows in ``[since, until)`` with the prices now stored.

        Each row is priced with the price in force at its request time. A changed row keeps
        its previous cost and price source in ``previous_cost`` and ``previous_price_source``.
        Rows whose model no longer has a price keep their cost.

        Args:
            progress: Called with (rows done, rows in all) as the work goes on.
        """
        if self.chain is None:
            message = "this ledger has no pricing chain to reprice with; use client.ledger"
            raise ConfigurationError(message)
        self.chain.invalidate()
        table = self.database.models.CostRecord
        self.database.ensure_schema()
        condition = self._where(since, until)
        with self.database.errors("count rows to reprice"):
            count = table.select().where(condition).count()
        examined = changed = 0
        previous_total = new_total = Decimal(0)
        now = time.time_ns() // 1000
        with self.database.errors("reprice cost records"), self.database.write_transaction():
            for row in table.select().where(condition).order_by(table.id).iterator():
                examined += 1
                previous_total += row.cost
                at = from_micros(row.created_at)
                model = self._priced_model(row, at)
                if model is None:
                    # With the "warn" policy the chain would price it at 0; keep the old cost instead.
                    logger.warning(
                        "Kept the cost of %s: no price for %s/%s on %s", row.request_id, row.provider, row.model, at
                    )
                    new_total += row.cost
                    continue
                try:
                    cost = self.chain.calculate(
                        row.provider, model, _usage_of(row), at=at, service_tier=row.service_tier
                    )
                except CostkitError as exc:
                    logger.warning("Kept the cost of %s: %s", row.request_id, exc)
                    new_total += row.cost
                    continue
                new_total += cost.total
                if cost.total != row.cost or cost.source != row.price_source:
                    changed += 1
                    table.update(
                        cost=cost.total,
                        price_source=cost.source,
                        free=cost.free,
                        unpriced=cost.unpriced,
                        previous_cost=row.cost,
                        previous_price_source=row.price_source,
                        repriced_at=now,
                    ).where(table.id == row.id).execute()
                    self._adjust_spend(row, cost.total - row.cost)
                if progress is not None:
                    progress(examined, count)
        return RepriceResult(examined=examined, changed=changed, previous_total=previous_total, new_total=new_total)

    def _priced_model(self, row: Any, at: datetime) -> str | None:
        """Return the model name to price a row with: the model named in the response, else the requested one."""
        assert self.chain is not None
        for name in (row.model, row.requested_model):
            if self.chain.resolve(row.provider, name, at=at) is not None:
                return str(name)
        return None


def _parameters(columns: list[tuple[str, Any, Callable[[Any], Any]]], row: dict[str, Any]) -> list[Any]:
    """Return a row's database values for ``columns`` (name, default, converter), with defaults for missing ones.

    Keys that are not columns are ignored, such as those of a journal row written by a newer
    costkit. A missing column without a default becomes NULL, which its NOT NULL constraint rejects.
    """
    values = []
    for name, default, to_database in columns:
        value = row.get(name, _MISSING)
        if value is _MISSING:
            value = default() if callable(default) else default
        if name == "cost" and value is not None:
            value = Decimal(value)
        values.append(to_database(value))
    return values


def _batch_size(kind: str, columns: int) -> int:
    """Return how many rows one INSERT may carry within the database's bind-parameter limit."""
    if kind == "sqlite":
        limit = _SQLITE_MAX_PARAMETERS if sqlite3.sqlite_version_info >= (3, 32, 0) else _OLD_SQLITE_MAX_PARAMETERS
    else:
        limit = _POSTGRESQL_MAX_PARAMETERS
    return max(1, min(_INSERT_BATCH, limit // columns))


def drop_broken_connection(database: Database) -> None:
    """Close this thread's connection when the server dropped it (see ``Database.drop_broken_connection``)."""
    database.drop_broken_connection()


def _default_journal(database: Database) -> Path:
    path = database.path
    if path is not None:
        return path.with_name(path.name + ".journal.jsonl")
    import platformdirs

    return Path(platformdirs.user_data_dir("costkit", appauthor=False)) / "ledger-journal.jsonl"


def _group_expression(table: Any, group: str) -> Any:
    # SQL "/" on two integers truncates on SQLite and PostgreSQL alike, which is the floor for
    # the non-negative timestamps of requests made after 1970.
    if group in ("day", "month"):
        return table.created_at / _MICROS_PER_DAY
    if group == "week":
        # 1970-01-01 was a Thursday: shift by three days so weeks start on Monday.
        return (table.created_at + 3 * _MICROS_PER_DAY) / (7 * _MICROS_PER_DAY)
    column = {"user": "user_id", "project": "project_id", "organization": "organization_id"}.get(group, group)
    if group == "conversation":
        column = "conversation_id"
    return getattr(table, column)


def _group_label(group: str, value: Any) -> str | None:
    if value is None:
        return None
    if group in ("day", "month"):
        return (date(1970, 1, 1) + timedelta(days=int(value))).isoformat()
    if group == "week":
        return (date(1970, 1, 1) + timedelta(days=int(value) * 7 - 3)).isoformat()
    return str(value)


def _merge_months(rows: list[ReportRow]) -> list[ReportRow]:
    months: dict[str, ReportRow] = {}
    for row in rows:
        month = (row.group or "")[:7] + "-01"
        previous = months.get(month)
        if previous is None:
            months[month] = attrs.evolve(row, group=month)
            continue
        months[month] = ReportRow(
            group=month,
            requests=previous.requests + row.requests,
            input_tokens=previous.input_tokens + row.input_tokens,
            output_tokens=previous.output_tokens + row.output_tokens,
            cost=previous.cost + row.cost,
            cached_input_tokens=previous.cached_input_tokens + row.cached_input_tokens,
            reasoning_tokens=previous.reasoning_tokens + row.reasoning_tokens,
        )
    return list(months.values())


def _record(row: Any) -> LedgerRecord:
    return LedgerRecord(
        request_id=row.request_id,
        created_at=from_micros(row.created_at),
        provider=row.provider,
        model=row.model,
        usage=_usage_of(row),
        cost=row.cost,
        currency=row.currency,
        price_source=row.price_source,
        user_id=row.user_id,
        project_id=row.project_id,
        organization_id=row.organization_id,
        conversation_id=row.conversation_id,
        free=bool(row.free),
        unpriced=bool(row.unpriced),
        streamed=bool(row.streamed),
        estimated=bool(row.estimated),
        status=row.status,
        provider_reported_cost=Decimal(row.provider_reported_cost) if row.provider_reported_cost else None,
        previous_cost=row.previous_cost,
        previous_price_source=row.previous_price_source,
        metadata=row.metadata or {},
    )


class CostTrackingMiddleware(Middleware):
    """Price every response and write it to the ledger, once per request id.

    Before the provider is called, it checks that the model has a price (with the ``raise``
    policy), so an unpriced request fails before anything is spent. After the response, or at
    the end of a stream, it computes the cost, emits ``costkit_cost_calculated`` and writes
    the row (or journals it when the database is unreachable).

    .. versionadded:: 0.1
    """

    name = "cost-tracking"

    def on_request(self, call: Call) -> None:
        """Refuse a request whose model has no price, when the policy is ``raise``."""
        chain = self.context.chain
        request = call.request
        if chain.policy == "raise" and chain.resolve(request.provider, request.model, at=request.created_at) is None:
            chain.calculate(request.provider, request.model, Usage(), at=request.created_at)
        return None

    def on_response(self, call: Call, response: Response) -> None:
        """Compute the cost, emit the event, and record the row."""
        cost = response.cost
        self.context.plugins.cost_calculated(CostCalculated(call.request, response, cost))
        self.context.ledger.record(call.request, response, cost)
        call.state["recorded"] = True
