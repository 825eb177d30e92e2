"""Start-up: ``import costkit`` and plugin discovery in a fresh interpreter.

Each run starts a new Python process that imports costkit, builds the process-wide plugin
manager (all installed plugins) and reads its driver, token-extractor and pricing-source
registries. The child times that with ``time.perf_counter`` and prints it. Interpreter start
is excluded from the figure and given on its own.

Bytecode is cached as in a normal installation: the environment variable
``PYTHONDONTWRITEBYTECODE`` is removed for the children, and one untimed run writes the
``.pyc`` files first.

Run alone: ``python benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from _harness import median, percentile

__all__ = ["run"]

REPEATS = 21

CHILD = """
import json, sys, time
began = time.perf_counter()
import costkit
from costkit.plugin.manager import get_plugin_manager
manager = get_plugin_manager()
counts = [len(manager.drivers()), len(manager.token_extractors()), len(manager.pricing_sources())]
seconds = time.perf_counter() - began
heavy = [name for name in ("httpx", "peewee", "psycopg2", "cattrs", "rich", "click") if name in sys.modules]
print(json.dumps({"seconds": seconds, "counts": counts, "heavy_modules": heavy, "modules": len(sys.modules)}))
"""


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def _child(code: str) -> tuple[float, str]:
    began = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_environment()
    ).stdout
    return time.perf_counter() - began, output


def slowest_imports(count: int = 10) -> list[dict[str, Any]]:
    """Return the imports with the largest own time in one ``-X importtime`` run of the child."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CHILD],
        check=True,
        capture_output=True,
        text=True,
        env=_environment(),
    ).stderr
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        entries.append({"module": name.strip(), "self_ms": int(own) / 1000, "cumulative_ms": int(cumulative) / 1000})
    return sorted(entries, key=lambda entry: entry["self_ms"], reverse=True)[:count]


def run(repeats: int = REPEATS) -> dict[str, Any]:
    """Time import and discovery in ``repeats`` fresh interpreters; return medians and details."""
    _child(CHILD)  # writes the bytecode cache
    inside: list[float] = []
    process: list[float] = []
    bare: list[float] = []
    details: dict[str, Any] = {}
    for _ in range(repeats):
        wall, output = _child(CHILD)
        details = json.loads(output)
        inside.append(details["seconds"])
        process.append(wall)
        bare.append(_child("pass")[0])
    return {
        "repeats": repeats,
        "median_seconds": median(inside),
        "p95_seconds": percentile(inside, 0.95),
        "process_median_seconds": median(process),
        "bare_interpreter_median_seconds": median(bare),
        "registries": details["counts"],
        "heavy_modules": details["heavy_modules"],
        "modules_loaded": details["modules"],
        "slowest_imports": slowest_imports(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
