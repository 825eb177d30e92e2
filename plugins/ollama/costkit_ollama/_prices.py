"""The pricing source of the Ollama plugin: every Ollama model is free by declaration.

Ollama runs models on the user's own hardware, so there is no per-token charge to look up.
Declaring them free makes their cost exactly 0 with ``CostBreakdown.free`` set, which is
different from an unpriced model. A team that accounts for its GPU time stores a price in
the database. The database source comes first in the chain (priority 0), so that price wins.
"""

from __future__ import annotations

from typing import Final

from costkit.pricing import FreeModels

__all__ = ["PRICES", "PRICES_PRIORITY"]

PRICES: Final = FreeModels("ollama", name="costkit-ollama: local Ollama models are free by declaration")
"""The source registered with the pricing chain."""

PRICES_PRIORITY: Final = 100
"""The priority of provider tables: after the database (0)."""
