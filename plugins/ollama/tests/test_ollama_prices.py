"""Ollama models are free by declaration, unless the database prices them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

import costkit_ollama
from costkit import ModelPrice, Request, Usage
from costkit._chain import build_chain
from costkit.plugin.manager import PluginManager
from costkit.pricing import PricingChain, StaticPriceTable
from costkit_ollama import PRICES

USAGE = Usage(input_tokens=1000, output_tokens=500)
TEAM_PRICE = ModelPrice(provider="ollama", model="llama3.2", input="0.10", output="0.20", source="team GPU accounting")


class TestFree:
    """The plugin's own source."""

    @pytest.mark.parametrize("model", ["llama3.2", "llama3.2:latest", "gemma3:1b", "ollama/qwen3:30b-a3b"])
    def test_zero_and_free(self, model: str) -> None:
        """Any Ollama model costs exactly 0 and is marked free, never unpriced."""
        cost = PricingChain([PRICES]).calculate("ollama", model, USAGE)
        assert cost.total == Decimal(0)
        assert isinstance(cost.total, Decimal)
        assert cost.free is True
        assert cost.unpriced is False
        assert cost.source == "costkit-ollama: local Ollama models are free by declaration"

    def test_resolves(self) -> None:
        """resolve() finds a free price for a tagged name."""
        price = PricingChain([PRICES]).resolve("ollama", "llama3.1:70b-instruct-q4_K_M")
        assert price is not None
        assert price.free is True

    def test_other_provider_not_free(self) -> None:
        """The declaration covers the ollama provider only."""
        assert PricingChain([PRICES]).resolve("openai", "gpt-4o") is None

    def test_registered_after_database(self, ollama_manager: PluginManager) -> None:
        """The plugin's source comes after the database source."""
        names = [source.name for source in ollama_manager.pricing_sources()]
        assert names == ["database", PRICES.name]


class TestOverride:
    """A price for an Ollama model set ahead of the declaration wins."""

    def test_static_price_first(self) -> None:
        """A source asked before the declaration prices the model."""
        chain = PricingChain([StaticPriceTable("team prices", [TEAM_PRICE]), PRICES])
        cost = chain.calculate("ollama", "llama3.2", USAGE)
        assert cost.total == Decimal("0.0002")
        assert cost.free is False
        assert cost.source == "team GPU accounting"

    def test_other_models_stay_free(self) -> None:
        """Models without their own price stay free."""
        chain = PricingChain([StaticPriceTable("team prices", [TEAM_PRICE]), PRICES])
        cost = chain.calculate("ollama", "gemma3:1b", USAGE)
        assert cost.total == Decimal(0)
        assert cost.free is True


class TestDatabaseOverride:
    """A price stored in a real SQLite ledger overrides the declaration."""

    @pytest.fixture
    def database(self, tmp_path: Path) -> Iterator[object]:
        from costkit.db import forget_database, open_database

        url = f"sqlite:///{tmp_path}/ledger.db"
        yield open_database(url)
        forget_database(url)

    def test_database_price_wins(self, database: object, ollama_manager: PluginManager) -> None:
        """The database price prices llama3.2; its source is the database."""
        from costkit.db.prices import PriceStore

        PriceStore(database).set(ModelPrice(provider="ollama", model="llama3.2", input="0.10", output="0.20"))
        cost = build_chain(ollama_manager, database).calculate("ollama", "llama3.2", USAGE)
        assert cost.total == Decimal("0.0002")
        assert cost.free is False
        assert cost.source == "database"

    def test_without_database_price(self, database: object, ollama_manager: PluginManager) -> None:
        """With an empty database the model is free."""
        cost = build_chain(ollama_manager, database).calculate("ollama", "llama3.2", USAGE)
        assert cost.total == Decimal(0)
        assert cost.free is True

    def test_response_priced(self, database: object, ollama_manager: PluginManager) -> None:
        """A driver response is priced through the chain with the database price."""
        from costkit.db.prices import PriceStore

        PriceStore(database).set(ModelPrice(provider="ollama", model="llama3.2", input="0.10", output="0.20"))
        body = {
            "model": "llama3.2",
            "message": {"role": "assistant", "content": "Hi"},
            "done": True,
            "prompt_eval_count": 1000,
            "eval_count": 500,
        }
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
        driver = costkit_ollama.create_driver(transport=transport, max_retries=0)
        response = driver.send(Request(provider="ollama", model="llama3.2", messages="Hello"))
        cost = build_chain(ollama_manager, database).price_response(response)
        assert cost.total == Decimal("0.0002")
        assert cost.source == "database"
