"""Run the command line with ``python -m costkit.cli``."""

from __future__ import annotations

from costkit.cli import main

main(prog_name="costkit")
