"""Run the demo: ``python -m demo [--help]`` from the repository root."""

from __future__ import annotations

from demo.scenario import main

raise SystemExit(main())
