"""Formatting of exact money amounts for people."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["format_amount"]


def format_amount(amount: Decimal) -> str:
    """Format an amount in plain notation without trailing zeros: ``0.000027``, ``12.5``, ``0``."""
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"
