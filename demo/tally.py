"""The responses the demo printed, checked against the ledger report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from costkit._money import format_amount

if TYPE_CHECKING:
    from costkit import Response
    from costkit.ledger import ReportRow

__all__ = ["GROUPINGS", "PrintedResponse", "Tally", "format_usd"]

GROUPINGS: Final = ("model", "user")
"""The report groupings that :meth:`Tally.compare` can check."""


def format_usd(amount: Decimal) -> str:
    """Format an exact amount in plain notation with every digit it has: ``$0.0000315``."""
    text = format(amount.normalize(), "f")
    return f"${'0' if text == '-0' else text}"


@dataclass(frozen=True)
class PrintedResponse:
    """One response as the demo printed it."""

    label: str
    "What the demo called it."
    request_id: str
    "The request id, the ledger's key."
    model: str
    "The model the ledger groups it under: the responding model, else the requested one."
    user_id: str | None
    "The user the request was made for."
    input_tokens: int
    "Input tokens."
    output_tokens: int
    "Output tokens."
    cost: Decimal
    "The exact cost."
    estimated: bool
    "True when the usage was estimated."


@dataclass(frozen=True)
class _Totals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)

    def plus(self, entry: PrintedResponse) -> _Totals:
        return _Totals(
            self.requests + 1,
            self.input_tokens + entry.input_tokens,
            self.output_tokens + entry.output_tokens,
            self.cost + entry.cost,
        )


class Tally:
    """Collect the printed responses, then compare them with ledger report rows."""

    def __init__(self) -> None:
        self.entries: list[PrintedResponse] = []

    def add(self, label: str, response: Response) -> PrintedResponse:
        """Record a response the demo printed and return the recorded figures.

        Raises:
            ValueError: The response carries no usage.
            costkit.PriceNotFoundError: No source prices the response's model.
        """
        usage = response.usage
        if usage is None:
            message = f"response {response.request_id} ({label}) carries no usage"
            raise ValueError(message)
        entry = PrintedResponse(
            label=label,
            request_id=response.request_id,
            model=response.model or response.request.model,
            user_id=response.request.user_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost=response.cost.total,
            estimated=usage.estimated,
        )
        self.entries.append(entry)
        return entry

    @property
    def total(self) -> Decimal:
        """The exact sum of the printed costs."""
        return sum((entry.cost for entry in self.entries), Decimal(0))

    def compare(self, rows: Iterable[ReportRow], group_by: str) -> list[str]:
        """Compare report rows grouped by ``model`` or ``user`` with the printed responses.

        Returns:
            One line per difference (requests, tokens or cost of a group, or a group present
            on one side only); an empty list when everything matches exactly.
        """
        if group_by not in GROUPINGS:
            message = f"cannot compare a report grouped by {group_by!r}; choose one of {', '.join(GROUPINGS)}"
            raise ValueError(message)
        expected: dict[str | None, _Totals] = {}
        for entry in self.entries:
            key = entry.model if group_by == "model" else entry.user_id
            expected[key] = expected.get(key, _Totals()).plus(entry)
        reported = {row.group: _Totals(row.requests, row.input_tokens, row.output_tokens, row.cost) for row in rows}

        problems = []
        for key in sorted(set(expected) | set(reported), key=str):
            printed = expected.get(key, _Totals())
            ledger = reported.get(key, _Totals())
            for field in ("requests", "input_tokens", "output_tokens", "cost"):
                mine, theirs = getattr(printed, field), getattr(ledger, field)
                if mine != theirs:
                    if field == "cost":
                        mine, theirs = format_amount(mine), format_amount(theirs)
                    problems.append(f"{group_by} {key!r}: printed {field} {mine}, ledger report {theirs}")
        return problems
