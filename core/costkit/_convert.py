"""The cattrs converter that turns costkit's data model into JSON-ready values and back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import cattrs

from costkit._price import CostBreakdown, ModelPrice, PriceTier, ServiceTierPrice
from costkit._usage import Usage

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")


def _make_converter() -> cattrs.Converter:
    """Build the converter.

    It sets up: Decimal as a decimal string (exact, never a float); strict booleans, strings
    and name lists (no coercion of ``"no"`` to True or of a string into letters); dates as ISO strings;
    unset optional fields left out of the output, so JSON price files stay short; and
    detailed validation, so a bad file reports every bad field at once.
    """
    conv = cattrs.Converter(omit_if_default=True, forbid_extra_keys=True, detailed_validation=True)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook_func(lambda cls: cls == tuple[str, ...], _structure_names)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, lambda value, _: value if isinstance(value, date) else date.fromisoformat(value))
    return conv


def _structure_bool(value: Any, _: type) -> bool:
    # cattrs' default would call bool(), turning the string "no" into True.
    if not isinstance(value, bool):
        message = f"expected true or false, got {value!r}"
        raise ValueError(message)
    return value


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        message = f"expected a string, got {value!r}"
        raise ValueError(message)
    return value


def _structure_names(value: Any, _: type) -> tuple[str, ...]:
    # A single string is one name, not a sequence of one-letter names.
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        message = f"expected a list of names, got {value!r}"
        raise ValueError(message)
    return tuple(value)


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        message = f"expected a decimal string such as '2.50', got {value!r}"
        raise ValueError(message)
    if isinstance(value, float):
        message = f"expected a decimal string such as '2.50', got the float {value!r}; quote it to keep it exact"
        raise ValueError(message)
    return Decimal(value)


converter = _make_converter()
"""The shared converter for :class:`~costkit.Usage`, :class:`~costkit.ModelPrice` and friends."""


def unstructure(value: Usage | ModelPrice | PriceTier | ServiceTierPrice | CostBreakdown) -> Any:
    """Turn a costkit value into dicts, lists and strings ready for JSON."""
    return converter.unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """Build a costkit value of type ``cls`` from JSON-ready data."""
    return converter.structure(data, cls)
