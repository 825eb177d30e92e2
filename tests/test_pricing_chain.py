"""Tests of the pricing chain: sources in order, name resolution, history, caching."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from strategies import usages

import costkit
from costkit import ModelPrice, PriceNotFoundError, PricingError, Usage
from costkit._chain import build_chain
from costkit.db import open_database
from costkit.db.prices import PriceStore
from costkit.plugin.manager import PluginManager
from costkit.pricing import PricingChain, StaticPriceTable, candidate_names

TABLE = StaticPriceTable(
    "test table (checked 2026-11-20)",
    [
        ModelPrice(provider="openai", model="gpt-4o", input="2.50", cached_input="1.25", output="10", source="t"),
        ModelPrice(provider="openai", model="gpt-4o-2024-05-13", input="5", output="15", source="t"),
        ModelPrice(provider="openai", model="o3", input="10", output="40", effective_to=date(2025, 6, 10), source="t"),
        ModelPrice(provider="openai", model="o3", input="2", output="8", effective_from=date(2025, 6, 10), source="t"),
        ModelPrice(provider="xai", model="grok-3-mini", input="0.30", output="0.50", aliases=["grok-3-mini-high"]),
        ModelPrice(provider="gemini", model="gemini-2.5-pro", input="1.25", output="10"),
        ModelPrice(provider="anthropic", model="claude-sonnet-4", input="3", output="15"),
    ],
)


class TablePlugin:
    """A pricing plugin defined for these tests."""

    @staticmethod
    @costkit.hookimpl
    def costkit_register_pricing_sources(register: object) -> None:
        register(TABLE)  # type: ignore[operator]


@pytest.fixture
def manager(plugin_manager: PluginManager) -> PluginManager:
    plugin_manager.register(TablePlugin, name="table")
    return plugin_manager


@pytest.fixture
def database(database_url: str) -> costkit.db.Database:
    return open_database(database_url)


RESOLUTION = [
    ("gpt-4o", "gpt-4o"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
    ("openai/gpt-4o", "gpt-4o"),
    ("GPT-4o", "gpt-4o"),
    ("gpt-4o-latest", "gpt-4o"),
    ("grok-3-mini-high", "grok-3-mini"),
    ("models/gemini-2.5-pro", "gemini-2.5-pro"),
    ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro"),
    ("claude-sonnet-4-20250514", "claude-sonnet-4"),
]


class TestResolution:
    @pytest.mark.parametrize(("name", "expected"), RESOLUTION)
    def test_name_resolves(self, name: str, expected: str) -> None:
        """Dated, prefixed, cased and aliased names resolve to the right entry."""
        provider = next(p.provider for p in TABLE.prices if p.model == expected)
        price = PricingChain([TABLE]).resolve(provider, name)
        assert price is not None
        assert price.model == expected

    def test_dated_snapshot_keeps_its_own_price(self) -> None:
        """A dated snapshot with its own entry never takes the family price."""
        cost = PricingChain([TABLE]).calculate("openai", "gpt-4o-2024-05-13", Usage(input_tokens=1_000_000))
        assert cost.total == Decimal(5)

    def test_unknown_model_raises_with_fix(self) -> None:
        """An unknown model is never silently free: the error names the model, the sources and the fix."""
        with pytest.raises(PriceNotFoundError) as raised:
            PricingChain([TABLE]).calculate("openai", "gpt-9-turbo", Usage(input_tokens=1))
        message = str(raised.value)
        assert "openai/gpt-9-turbo" in message
        assert "test table" in message
        assert "costkit prices set" in message
        assert raised.value.sources == ("test table (checked 2026-11-20)",)

    def test_warn_policy_marks_unpriced(self, caplog: pytest.LogCaptureFixture) -> None:
        """With the warn policy an unknown model costs 0, marked unpriced, with a warning."""
        cost = PricingChain([TABLE], policy="warn").calculate("openai", "gpt-9", Usage(input_tokens=1))
        assert cost.total == 0
        assert cost.unpriced is True
        assert cost.free is False
        assert "gpt-9" in caplog.text

    def test_candidate_names_order(self) -> None:
        """The resolution steps are exact, normalised, without alias suffix, without date."""
        assert candidate_names("openai", "openai/GPT-4o-2024-08-06") == [
            "openai/GPT-4o-2024-08-06",
            "gpt-4o-2024-08-06",
            "gpt-4o",
        ]


class TestHistory:
    def test_price_in_force_before_change(self) -> None:
        """A request before a price change is billed at the old price."""
        at = datetime(2025, 6, 9, 23, 0, tzinfo=timezone.utc)
        cost = PricingChain([TABLE]).calculate("openai", "o3", Usage(input_tokens=1_000_000), at=at)
        assert cost.total == Decimal(10)

    def test_price_in_force_after_change(self) -> None:
        """A request from the change on is billed at the new price."""
        at = datetime(2025, 6, 10, 0, 0, tzinfo=timezone.utc)
        cost = PricingChain([TABLE]).calculate("openai", "o3", Usage(input_tokens=1_000_000), at=at)
        assert cost.total == Decimal(2)

    def test_no_price_in_force_says_so(self) -> None:
        """Prices that exist but are not in force are named as such."""
        table = StaticPriceTable("t", [ModelPrice(provider="p", model="m", input="1", effective_from="2030-01-01")])
        with pytest.raises(PriceNotFoundError, match="none is in force"):
            PricingChain([table]).calculate("p", "m", Usage(), at=date(2026, 1, 1))


class TestDatabaseSource:
    def test_database_price_overrides_table(self, manager: PluginManager, database: costkit.db.Database) -> None:
        """A database price comes before the plugin table, and deleting it falls back."""
        chain = build_chain(manager, database)
        usage = Usage(input_tokens=1_000_000)
        assert chain.calculate("openai", "gpt-4o", usage).total == Decimal("2.50")

        PriceStore(database).set(ModelPrice(provider="openai", model="gpt-4o", input="2", output="8"))
        cost = chain.calculate("openai", "gpt-4o", usage)
        assert cost.total == Decimal(2)
        assert cost.source == "database"

        assert PriceStore(database).delete("openai", "gpt-4o") == 1
        assert chain.calculate("openai", "gpt-4o", usage).total == Decimal("2.50")

    def test_price_for_unlisted_model(self, manager: PluginManager, database: costkit.db.Database) -> None:
        """A model only the database knows (a local server's) is priced from it."""
        PriceStore(database).set(ModelPrice(provider="openai", model="smollm2", input="0.01", output="0.02"))
        cost = build_chain(manager, database).calculate("openai", "smollm2", Usage(output_tokens=1_000_000))
        assert cost.total == Decimal("0.02")

    def test_history_in_database(self, manager: PluginManager, database: costkit.db.Database) -> None:
        """Several database prices of one model apply on either side of their change."""
        store = PriceStore(database)
        store.set(ModelPrice(provider="p", model="m", input="4", effective_to="2026-01-01"))
        store.set(ModelPrice(provider="p", model="m", input="3", effective_from="2026-01-01"))
        chain = build_chain(manager, database)
        usage = Usage(input_tokens=1_000_000)
        assert chain.calculate("p", "m", usage, at=date(2025, 12, 31)).total == Decimal(4)
        assert chain.calculate("p", "m", usage, at=date(2026, 1, 1)).total == Decimal(3)

    def test_overlapping_ranges_are_rejected(self, database: costkit.db.Database) -> None:
        """Two prices of one model cannot be in force at the same time."""
        store = PriceStore(database)
        store.set(ModelPrice(provider="p", model="m", input="4", effective_from="2025-01-01"))
        with pytest.raises(PricingError, match="overlaps"):
            store.set(ModelPrice(provider="p", model="m", input="3", effective_from="2025-06-01"))

    def test_set_replaces_same_start(self, database: costkit.db.Database) -> None:
        """Setting a price with the same start date replaces it."""
        store = PriceStore(database)
        store.set(ModelPrice(provider="p", model="m", input="4"))
        store.set(ModelPrice(provider="p", model="m", input="5"))
        assert [price.input for price in store.get("p", "m")] == [Decimal(5)]

    def test_exact_rates_survive_storage(self, database: costkit.db.Database) -> None:
        """Rates come back from the database exactly as written."""
        PriceStore(database).set(ModelPrice(provider="p", model="m", input="0.075", cached_input="0.01875"))
        stored = PriceStore(database).get("p", "m")[0]
        assert stored.input == Decimal("0.075")
        assert stored.cached_input == Decimal("0.01875")

    def test_second_process_change_is_seen(
        self, manager: PluginManager, database: costkit.db.Database, database_url: str
    ) -> None:
        """A price written by another process is used once the change counter is read again."""
        chain = build_chain(manager, database, check_interval=0)
        usage = Usage(input_tokens=1_000_000)
        assert chain.calculate("openai", "gpt-4o", usage).total == Decimal("2.50")
        script = (
            "from costkit import ModelPrice\n"
            "from costkit.db import open_database\n"
            "from costkit.db.prices import PriceStore\n"
            f"PriceStore(open_database({database_url!r})).set("
            "ModelPrice(provider='openai', model='gpt-4o', input='7', output='9'))\n"
        )
        subprocess.run([sys.executable, "-c", script], check=True)
        assert chain.calculate("openai", "gpt-4o", usage).total == Decimal(7)

    def test_lookups_are_cached(self, manager: PluginManager, database: costkit.db.Database) -> None:
        """Repeated lookups ask the sources once until something changes."""
        calls: list[str] = []

        class CountingSource:
            name = "counting"

            def find(self, provider: str, model: str) -> list[ModelPrice]:
                calls.append(model)
                return [ModelPrice(provider=provider, model=model, input="1")]

        chain = PricingChain([CountingSource()])
        for _ in range(5):
            chain.resolve("p", "m")
        assert calls == ["m"]
        chain.invalidate()
        chain.resolve("p", "m")
        assert calls == ["m", "m"]


@given(usage=usages())
def test_chain_result_equals_price_calculate(usage: Usage) -> None:
    """The chain's cost equals price.calculate of the price it resolved."""
    chain = PricingChain([TABLE])
    price = chain.resolve("openai", "gpt-4o-2024-08-06")
    assert price is not None
    assert chain.calculate("openai", "gpt-4o-2024-08-06", usage).total == price.calculate(usage).total
