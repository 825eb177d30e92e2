"""The database pricing source as the core registers it, before any database is opened.

It lives apart from :mod:`costkit.db` so that registering it imports neither peewee nor
cattrs: plugin discovery stays fast, and the database modules load when a client binds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costkit._price import ModelPrice
    from costkit.db import Database
    from costkit.db.prices import BoundDatabasePriceSource

__all__ = ["DATABASE_SOURCE", "DatabasePriceSource"]

DATABASE_SOURCE = "database"
"""The source name of prices read from the database."""


class DatabasePriceSource:
    """The database pricing source as registered by the core; each client binds it to its database."""

    name = DATABASE_SOURCE

    def find(self, provider: str, model: str) -> Sequence[ModelPrice]:
        """Return nothing: an unbound source has no database to read."""
        return ()

    def bind(self, database: Database) -> BoundDatabasePriceSource:
        """Return the source reading prices from ``database``."""
        from costkit.db.prices import BoundDatabasePriceSource

        return BoundDatabasePriceSource(database)
