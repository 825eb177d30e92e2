"""Prices kept in the ledger database: the first source of the pricing chain."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs

from costkit._convert import converter
from costkit._database_source import DATABASE_SOURCE, DatabasePriceSource
from costkit._price import ModelPrice
from costkit.errors import PricingError

if TYPE_CHECKING:
    from costkit.db import Database

__all__ = ["DATABASE_SOURCE", "BoundDatabasePriceSource", "DatabasePriceSource", "PriceStore"]


class BoundDatabasePriceSource:
    """Prices from one database, loaded into memory and reloaded when they change."""

    name = DATABASE_SOURCE

    def __init__(self, database: Database) -> None:
        self.database = database
        self._index: dict[tuple[str, str], list[ModelPrice]] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Forget the loaded prices; the next lookup reads the table again."""
        self._index = None

    def _load(self) -> dict[tuple[str, str], list[ModelPrice]]:
        index: dict[tuple[str, str], list[ModelPrice]] = {}
        for price in PriceStore(self.database).list():
            for key in (price.model, *price.aliases):
                index.setdefault((price.provider, key.lower()), []).append(price)
        return index

    def find(self, provider: str, model: str) -> Sequence[ModelPrice]:
        """Return the database prices listed under ``model`` or with it as an alias."""
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    index = self._index = self._load()
        return index.get((provider, model.lower()), ())


def _overlaps(a: ModelPrice, b: ModelPrice) -> bool:
    a_start = a.effective_from or date.min
    b_start = b.effective_from or date.min
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a_start < b_end and b_start < a_end


class PriceStore:
    """Read and write the prices table; ``client.prices`` is one of these.

    Every write increments the database's price change counter, so pricing chains in this
    process drop their caches at once and chains in other processes within their check
    interval.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def set(self, price: ModelPrice) -> ModelPrice:
        """Store a price, replacing the one with the same provider, model and start date.

        The stored price's source is ``database``. A price whose effective range overlaps
        another price of the same model is rejected.

        Raises:
            PricingError: The range overlaps an existing price of the model.
        """
        if not isinstance(price, ModelPrice):
            message = f"prices.set() takes a costkit.ModelPrice, got {price!r}"
            raise PricingError(message)
        price = attrs.evolve(price, source=DATABASE_SOURCE)
        rows = self.database.models.PriceRow
        self.database.ensure_schema()
        with self.database.errors("write a price"), self.database.write_transaction():
            existing = list(rows.select().where((rows.provider == price.provider) & (rows.model == price.model)))
            replaced = None
            for row in existing:
                other = converter.structure(row.data, ModelPrice)
                if other.effective_from == price.effective_from:
                    replaced = row
                    continue
                if _overlaps(price, other):
                    message = (
                        f"the price of {price.provider}/{price.model} from {price.effective_from or 'the start'} "
                        f"to {price.effective_to or 'open end'} overlaps the stored price from "
                        f"{other.effective_from or 'the start'} to {other.effective_to or 'open end'}; "
                        "set effective_to on the older price first, or delete it"
                    )
                    raise PricingError(message)
            data: dict[str, Any] = converter.unstructure(price)
            now = int(time.time())
            if replaced is not None:
                rows.update(data=data, effective_to=price.effective_to, updated_at=now).where(
                    rows.id == replaced.id
                ).execute()
            else:
                rows.insert(
                    provider=price.provider,
                    model=price.model,
                    effective_from=price.effective_from,
                    effective_to=price.effective_to,
                    data=data,
                    updated_at=now,
                ).execute()
            self.database.bump_price_version()
        _invalidate_chains()
        return price

    def list(self, provider: str | None = None) -> list[ModelPrice]:
        """Return every stored price (of one provider, if given), by provider, model and date."""
        rows = self.database.models.PriceRow
        self.database.ensure_schema()
        with self.database.errors("read the prices"):
            query = rows.select()
            if provider is not None:
                query = query.where(rows.provider == provider)
            prices = [converter.structure(row.data, ModelPrice) for row in query]
        return sorted(prices, key=lambda p: (p.provider, p.model, p.effective_from or date.min))

    def get(self, provider: str, model: str) -> builtins.list[ModelPrice]:
        """Return the stored prices listed exactly under ``provider``/``model``, oldest first."""
        return [price for price in self.list(provider) if price.model == model]

    def delete(self, provider: str, model: str, *, effective_from: date | None = None) -> int:
        """Delete the stored prices of a model (only the one starting on ``effective_from`` if given).

        Returns:
            How many prices were deleted.
        """
        rows = self.database.models.PriceRow
        self.database.ensure_schema()
        condition = (rows.provider == provider) & (rows.model == model)
        if effective_from is not None:
            condition &= rows.effective_from == effective_from
        with self.database.errors("delete a price"), self.database.write_transaction():
            deleted: int = rows.delete().where(condition).execute()
            if deleted:
                self.database.bump_price_version()
        _invalidate_chains()
        return deleted


def _invalidate_chains() -> None:
    from costkit.pricing import invalidate_all_chains

    invalidate_all_chains()
