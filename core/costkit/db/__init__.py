"""The ledger database: opening it from a URL, migrating it, and translating its errors.

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``,
or ``postgresql://user:password@host:port/dbname`` (needs ``pip install 'costkit[postgresql]'``).
With no URL configured, the ledger is ``ledger.sqlite3`` in the user data directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote, urlsplit

import peewee

from costkit.db.schema import MIGRATIONS, SCHEMA_VERSION, bind_models
from costkit.errors import ConfigurationError, MissingExtraError, StorageError

if TYPE_CHECKING:
    from types import SimpleNamespace

    from costkit._config import Settings

__all__ = [
    "Database",
    "default_sqlite_path",
    "open_configured_database",
    "open_database",
    "redact_url",
    "translate_errors",
]

logger = logging.getLogger(__name__)

SQLITE_PRAGMAS: Final = {
    "journal_mode": "wal",
    "busy_timeout": 30_000,
    "synchronous": "normal",
    "foreign_keys": 1,
}
"""WAL lets readers work while one process writes; the busy timeout (ms) makes writers wait
for the lock instead of failing at once."""


def default_sqlite_path() -> Path:
    """Return the default ledger file: ``ledger.sqlite3`` in the user data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("costkit", appauthor=False)) / "ledger.sqlite3"


_SECRET_PARAMETERS = ("password", "passwd", "sslpassword", "sslkey")


def redact_url(url: str) -> str:
    """Return ``url`` with a password, in the user part or the query string, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and not any(name in parts.query.lower() for name in _SECRET_PARAMETERS):
        return url
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    if parts.query:
        items = []
        for item in parts.query.split("&"):
            name, separator, value = item.partition("=")
            if name.lower() in _SECRET_PARAMETERS:
                items.append(f"{name}=***")
            elif separator:
                items.append(f"{name}={value}")
            else:
                items.append(name)
        query = "&".join(items)
        parts = parts._replace(query=query)
    return parts.geturl()


@contextlib.contextmanager
def translate_errors(action: str, url: str) -> Iterator[None]:
    """Turn peewee and driver errors raised inside the block into :class:`~costkit.StorageError`."""
    try:
        yield
    except peewee.PeeweeException as exc:
        message = f"could not {action} in the ledger database {redact_url(url)}: {exc}"
        raise StorageError(message) from exc


class Database:
    """An open ledger database with its bound tables.

    Use :func:`open_database`; the schema is migrated on first use.

    Attributes:
        url: The URL it was opened from.
        kind: ``"sqlite"`` or ``"postgresql"``.
        models: The peewee models bound to this database, by name (``models.CostRecord``...).
    """

    def __init__(self, url: str, database: peewee.Database, kind: str) -> None:
        self.url = url
        self.kind = kind
        self.peewee = database
        self.models: SimpleNamespace = bind_models(database)
        self._migrated = False
        self._lock = threading.Lock()
        # Statements prepared per connection: id(connection) -> (connection, {sql: EXECUTE text}).
        self._prepared: dict[int, tuple[Any, dict[str, str]]] = {}

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` for PostgreSQL and in-memory databases."""
        if self.kind != "sqlite" or self.peewee.database == ":memory:":
            return None
        return Path(self.peewee.database)

    @contextlib.contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Translate database errors inside the block into StorageError naming ``action``.

        After a failure, a connection the server dropped is closed, so the next query
        reconnects instead of failing on the dead connection.
        """
        try:
            with translate_errors(action, self.url):
                yield
        except StorageError:
            self.drop_broken_connection()
            raise

    def prepared(self, sql: str) -> str:
        """Prepare ``sql`` on this thread's PostgreSQL connection once; return the text that runs it.

        The returned ``EXECUTE`` takes the same ``%s`` parameters as ``sql`` and may be sent on
        its own or inside a string of several statements. PostgreSQL then plans the statement
        once per connection instead of at every call. ``sql`` must contain no ``%`` other
        than its ``%s`` placeholders.
        """
        connection = self.peewee.connection()
        prepared = self._prepared.get(id(connection))
        if prepared is None or prepared[0] is not connection:
            prepared = self._prepared[id(connection)] = (connection, {})
        statements = prepared[1]
        text = statements.get(sql)
        if text is None:
            name = "costkit_" + hashlib.sha1(sql.encode("utf-8")).hexdigest()[:16]
            parts = sql.split("%s")
            numbered = parts[0] + "".join(f"${index}{part}" for index, part in enumerate(parts[1:], start=1))
            self.peewee.execute_sql(f"PREPARE {name} AS {numbered}")
            placeholders = ", ".join(["%s"] * (len(parts) - 1))
            text = f"EXECUTE {name} ({placeholders})" if placeholders else f"EXECUTE {name}"
            statements[sql] = text
        return text

    def drop_broken_connection(self) -> None:
        """Close this thread's connection when the server dropped it, so the next query reconnects."""
        engine = self.peewee
        try:
            if engine.is_closed() or engine.in_transaction():
                return
            # psycopg2 sets `closed` to a non-zero value once the connection is lost; sqlite3
            # connections have no such attribute and do not break this way.
            connection = engine.connection()
            if getattr(connection, "closed", 0):
                logger.info("Reconnecting to the ledger database %r after a lost connection", self)
                self._prepared.pop(id(connection), None)
                engine.close()
        except peewee.PeeweeException:
            logger.debug("Could not check the ledger connection", exc_info=True)

    def ensure_schema(self) -> None:
        """Apply the pending migrations, once per process; safe when several processes race."""
        if self._migrated:
            return
        with self._lock:
            if self._migrated:
                return
            with self.errors("apply the schema migrations"):
                self._migrate()
            self._migrated = True

    def _migrate(self) -> None:
        models = self.models
        with self.write_transaction():
            if self.kind == "postgresql":
                # Serialise migrations across processes; the lock ends with the transaction.
                self.peewee.execute_sql("SELECT pg_advisory_xact_lock(72707368)")
            self.peewee.create_tables([models.MetaValue], safe=True)
            row = models.MetaValue.get_or_none(models.MetaValue.key == "schema_version")
            current = row.value if row is not None else 0
            if current > SCHEMA_VERSION:
                message = (
                    f"the ledger database {redact_url(self.url)} has schema version {current}, newer than "
                    f"this costkit ({SCHEMA_VERSION}); upgrade costkit"
                )
                raise StorageError(message)
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](models)
                logger.info("Migrated the ledger database %s to schema version %d", redact_url(self.url), version + 1)
            models.MetaValue.insert(key="schema_version", value=SCHEMA_VERSION).on_conflict(
                conflict_target=[models.MetaValue.key], update={models.MetaValue.value: SCHEMA_VERSION}
            ).execute()

    def write_transaction(self) -> Any:
        """Return a transaction that takes the write lock at its start (SQLite ``BEGIN IMMEDIATE``).

        Taking the lock first means a read inside the transaction cannot be overtaken by
        another writer before this one writes; PostgreSQL code adds row locks for the same.
        """
        if self.kind == "sqlite":
            return self.peewee.atomic(lock_type="IMMEDIATE")
        return self.peewee.atomic()

    def price_version(self) -> int:
        """Return the price change counter; every price write increments it."""
        self.ensure_schema()
        with self.errors("read the price version"):
            row = self.models.MetaValue.get_or_none(self.models.MetaValue.key == "price_version")
        return row.value if row is not None else 0

    def bump_price_version(self) -> None:
        """Increment the price change counter (inside the caller's transaction)."""
        meta = self.models.MetaValue
        meta.update(value=meta.value + 1).where(meta.key == "price_version").execute()

    def close(self) -> None:
        """Close this thread's connection."""
        if not self.peewee.is_closed():
            self.peewee.close()


_open: dict[str, Database] = {}
_open_lock = threading.Lock()


def open_database(url: str) -> Database:
    """Open (or reuse, within this process) the database at ``url`` and migrate it.

    Raises:
        ConfigurationError: The URL is not a SQLite or PostgreSQL URL, or the PostgreSQL
            driver is not installed.
        StorageError: The database cannot be reached or migrated.
    """
    with _open_lock:
        database = _open.get(url)
        if database is None:
            database = _connect(url)
            _open[url] = database
    database.ensure_schema()
    return database


def forget_database(url: str) -> None:
    """Drop a database from the process's open set (tests that remove the file)."""
    with _open_lock:
        database = _open.pop(url, None)
    if database is not None:
        database.close()


def _connect(url: str) -> Database:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if path not in ("", ":memory:"):
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        pragmas = dict(SQLITE_PRAGMAS)
        if path in ("", ":memory:"):
            path = ":memory:"
            pragmas.pop("journal_mode")
        return Database(url, peewee.SqliteDatabase(path, pragmas=pragmas, check_same_thread=False), "sqlite")
    if scheme in ("postgresql", "postgres"):
        try:
            import psycopg2  # noqa: F401  (peewee needs it at connect time; fail early with the fix)
        except ImportError as exc:
            message = "PostgreSQL needs the psycopg2 driver: pip install 'costkit[postgresql]'"
            raise MissingExtraError(message) from exc
        database = peewee.PostgresqlDatabase(
            unquote(parts.path.lstrip("/")) or "postgres",
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
        )
        return Database(url, database, "postgresql")
    message = (
        f"unsupported database URL {redact_url(url)!r}; use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/NAME"
    )
    raise ConfigurationError(message)


def open_configured_database(settings: Settings, *, create: bool = True) -> Database | None:
    """Open the database the settings name, or the default SQLite file.

    Args:
        settings: The resolved settings.
        create: Whether to create the default file when it does not exist yet; with
            ``False``, a missing default file gives ``None``.
    """
    url = settings.database_url
    if url is None:
        path = default_sqlite_path()
        if not create and not path.exists():
            return None
        url = f"sqlite:///{path}"
    return open_database(url)
