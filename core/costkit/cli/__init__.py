"""The ``costkit`` command line: chat, price responses, report spend, manage prices and budgets.

Run ``costkit --help`` for the commands. Importing this package loads click only; rich, the
client and the database are imported when a command runs.
"""

from __future__ import annotations

from costkit.cli._main import main

__all__ = ["main"]
