"""Run every benchmark in one process and write the results page.

Usage: ``python benchmarks/run.py [--output docs/benchmarks.md] [--json benchmarks/results.json]
[--only NAME ...] [--quick] [--render-only]``. ``nox -s bench`` runs it with the peers installed.

The page is generated: edit the scripts, or ``benchmarks/fixes.md`` for the record of
performance fixes, which the page includes as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("startup", "cost", "pipeline", "budget", "ledger")

GOALS = {
    "cost_genai": 20.0,
    "cost_litellm": 30.0,
    "pipeline_sqlite_ms": 0.5,
    "pipeline_postgresql_ms": 2.0,
    "budget_per_second": 500.0,
    "ledger_seconds": 1.0,
    "startup_ms": 150.0,
}
"""The targets: speed-up factors, added milliseconds, settled requests per second, seconds."""


def _isolate_settings() -> None:
    """Keep the user's configuration and ledger out of the run: no config file, no default database."""
    for name in ("COSTKIT_DATABASE_URL", "COSTKIT_CONFIG", "COSTKIT_MIDDLEWARE", "COSTKIT_PRICE_POLICY"):
        os.environ.pop(name, None)
    # The default SQLite ledger lives under the user data directory; point it at an empty folder.
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="costkit-bench-data-")
    os.chdir(tempfile.mkdtemp(prefix="costkit-bench-cwd-"))


_QUICK_ARGUMENTS: dict[str, str] = {
    "startup": "repeats=5",
    "cost": "repeats=5, repeat_seconds=0.01",
    "pipeline": "rounds=4, per_round=50",
    "budget": "target=1_000",
    "ledger": "sizes=(10_000, 100_000), repeats=3",
}


def _run_isolated(name: str, quick: bool) -> Any:
    """Run one benchmark in a fresh interpreter and return its results.

    Each benchmark gets a process of its own, so that what an earlier one imported (LiteLLM
    alone brings tens of thousands of objects, which slow down every garbage collection)
    does not weigh on the next one's timings.
    """
    arguments = _QUICK_ARGUMENTS[name] if quick else ""
    script = (
        "import json, sys\n"
        "from _harness import install_network_guard\n"
        "install_network_guard()\n"
        f"import bench_{name}\n"
        f"result = bench_{name}.run({arguments})\n"
        "with open(sys.argv[1], 'w') as file:\n"
        "    json.dump(result, file, default=str)\n"
    )
    output = Path(tempfile.mkdtemp(prefix="costkit-bench-result-")) / f"{name}.json"
    completed = subprocess.run(
        [sys.executable, "-c", script, str(output)],
        cwd=Path(__file__).resolve().parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)},
        check=False,
    )
    if completed.returncode != 0:
        message = f"the {name} benchmark failed with exit status {completed.returncode}"
        raise RuntimeError(message)
    return json.loads(output.read_text())


# --- Rendering -------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cost_section(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    lines = [
        "## 1. Cost math",
        "",
        "`costkit.calculate_cost` against `genai_prices.calc_price` and `litellm.cost_per_token`",
        "(`LITELLM_LOCAL_MODEL_COST_MAP=True`, so LiteLLM reads the price map bundled in its wheel).",
        "Every tool prices the same usage records, each given its usage in its own form, built",
        "before the timing. The tools take turns within each repeat; the figures are the median",
        f"per-call time over {result['repeats']} repeats of about 50 ms per tool.",
        "`costkit.calculate_cost` runs with no ledger database configured, so the plugins' static",
        "price tables answer.",
        "",
        "### Do the amounts agree?",
        "",
    ]
    rows = []
    for record in result["records"]:
        amounts = record["amounts"]
        agreement = record["agreement"]
        rows.append(
            [
                record["record"],
                f"`{amounts['costkit']}`",
                f"`{amounts['genai-prices']}`" + (" (equal)" if agreement["genai_equal"] else " (**differs**)"),
                f"`{record['litellm_repr']}`"
                + (" (equal as float)" if agreement["litellm_exact_float"] else "")
                + (
                    f" (relative difference {agreement['litellm_relative_error']:.1e})"
                    if agreement["litellm_close"] and not agreement["litellm_exact_float"]
                    else ""
                )
                + ("" if agreement["litellm_close"] else " (**differs**)"),
            ]
        )
    lines += _table(["Usage record", "costkit (Decimal)", "genai-prices (Decimal)", "LiteLLM (float)"], rows)
    lines += [
        "",
        "costkit and genai-prices compute in `Decimal` and are compared exactly; trailing zeros",
        "differ only in the exponent, not in value. LiteLLM multiplies float per-token rates, so its",
        "total is compared within float precision (relative tolerance 1e-12). A relative difference",
        "near 1e-16 is one unit in the last place of a float, a rounding effect of binary",
        "floating point and not a price difference: the exact amount is the costkit one.",
        "",
        "### Speed",
        "",
    ]
    rows = []
    verdicts = []
    for record in result["records"]:
        medians = record["median_seconds"]
        speedup = record["speedup"]
        rows.append(
            [
                record["record"],
                _us(medians["costkit"]),
                _us(medians["genai-prices"]),
                _us(medians["litellm"]),
                f"{speedup['genai-prices']:.1f}x",
                f"{speedup['litellm']:.1f}x",
            ]
        )
        verdicts.append((speedup["genai-prices"], speedup["litellm"]))
    lines += _table(["Usage record", "costkit", "genai-prices", "LiteLLM", "vs genai-prices", "vs LiteLLM"], rows)
    blocked = result["blocked_connections"]
    lines += [
        "",
        "Network: the benchmark process blocks every connection and name lookup that is not to",
        "loopback, failing it at once.",
        f"Blocked attempts during this run: {len(blocked)}" + (f" ({', '.join(blocked)})." if blocked else "."),
        "",
    ]
    worst_genai = min(value[0] for value in verdicts)
    worst_litellm = min(value[1] for value in verdicts)
    summary = [
        [
            "Cost math vs genai-prices",
            f">= {GOALS['cost_genai']:.0f}x faster on every record",
            f"{worst_genai:.1f}x (slowest record)",
            _verdict(worst_genai >= GOALS["cost_genai"]),
        ],
        [
            "Cost math vs LiteLLM",
            f">= {GOALS['cost_litellm']:.0f}x faster on every record",
            f"{worst_litellm:.1f}x (slowest record)",
            _verdict(worst_litellm >= GOALS["cost_litellm"]),
        ],
    ]
    return lines, summary


def _pipeline_section(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    count = result["rounds"] * result["per_round"]
    lines = [
        "## 2. Pipeline overhead",
        "",
        "One OpenAI chat request through `Client.send` with the default middleware",
        "(`budget-enforcement`, `cost-tracking`), a monthly budget on the request's user and the",
        "ledger, against the bare driver (`driver.send`). Both answer through",
        "`httpx.MockTransport` with a small chat completion held in memory. The paths alternate in",
        f"blocks of {result['per_round']} requests after {result['warmup']} untimed requests each;",
        f"{count} requests per path are timed one by one.",
        "",
    ]
    rows = []
    summary = []
    for backend, goal_key in (("sqlite", "pipeline_sqlite_ms"), ("postgresql", "pipeline_postgresql_ms")):
        data = result.get(backend)
        name = "SQLite (file, WAL)" if backend == "sqlite" else "PostgreSQL over loopback"
        if data is None:
            rows.append([name, "not run: PostgreSQL is not installed", "", "", "", ""])
            summary.append([f"Pipeline overhead, {name}", f"<= {GOALS[goal_key]} ms at the median", "not run", "-"])
            continue
        rows.append(
            [
                name,
                _ms(data["bare"]["median"]),
                _ms(data["tracked"]["median"]),
                _ms(data["added_median"]),
                _ms(data["bare"]["p95"]),
                _ms(data["tracked"]["p95"]),
                _ms(data["added_p95"]),
            ]
        )
        added_ms = data["added_median"] * 1e3
        summary.append(
            [
                f"Pipeline overhead, {name}",
                f"<= {GOALS[goal_key]} ms added at the median",
                f"{added_ms:.2f} ms",
                _verdict(added_ms <= GOALS[goal_key]),
            ]
        )
    lines += _table(
        ["Ledger", "bare median", "tracked median", "added median", "bare p95", "tracked p95", "added p95"], rows
    )
    checks = [
        f"{backend}: {data['ledger_rows']} ledger rows for {data['expected_rows']} tracked requests, "
        f"open reservations {data['open_reservations']} USD"
        for backend in ("sqlite", "postgresql")
        if (data := result.get(backend)) is not None
    ]
    lines += ["", "After the run: " + "; ".join(checks) + ".", ""]
    return lines, summary


def _budget_section(result: dict[str, Any] | None) -> tuple[list[str], list[list[str]]]:
    lines = ["## 3. Budget throughput", ""]
    goal = f">= {GOALS['budget_per_second']:.0f} settled requests/s, no overspend"
    if result is None:
        lines += ["Not run: PostgreSQL is not installed.", ""]
        return lines, [["Budget throughput", goal, "not run", "-"]]
    first = result["client"]
    lines += [
        f"{first['workers']} worker processes send requests for one project against one monthly budget",
        "in PostgreSQL (a server on loopback, started by `costkit.testing.postgres`). The limit pays",
        f"for {first['target']:,} requests, and each worker stops at its first `BudgetExceededError`. Two",
        "modes, each on a fresh database:",
        "",
        "- **client**: `client.send` with the default middleware; `httpx.MockTransport` responds at once.",
        "- **store**: what the middleware call, without the client, the pipeline and HTTP:",
        "  `BudgetStore.reserve`, `Ledger.record` (which settles the reservation) and",
        "  `BudgetStore.check_thresholds`.",
        "",
    ]
    modes = [result[mode] for mode in ("client", "store") if mode in result]
    measures: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("Settled requests", lambda data: str(data["settled"])),
        ("Ledger rows", lambda data: str(data["ledger_rows"])),
        ("Rejected requests", lambda data: str(data["rejected"])),
        ("Wall time", lambda data: f"{data['seconds']:.2f} s"),
        ("Settled requests per second", lambda data: f"{data['settled_per_second']:.0f}"),
        ("Request latency, median", lambda data: _ms(data["latency_median"])),
        ("Request latency, p95", lambda data: _ms(data["latency_p95"])),
        ("Limit", lambda data: f"{data['limit']} USD"),
        ("Settled spend", lambda data: f"{data['spent']} USD"),
        ("Spend within the limit", lambda data: "yes" if data["within_limit"] else "**no**"),
        ("Open reservations at the end", lambda data: str(data["open_reservations"])),
    ]
    rows = [[name, *(render(data) for data in modes)] for name, render in measures]
    lines += _table(["Measure", *(data["mode"] for data in modes)], rows)
    lines.append("")
    summary = []
    for data in modes:
        safe = data["within_limit"] and data["open_reservations"] == 0
        summary.append(
            [
                f"Budget throughput, {data['workers']} processes, PostgreSQL ({data['mode']} mode)",
                goal,
                f"{data['settled_per_second']:.0f}/s, " + ("no overspend" if safe else "**overspend**"),
                _verdict(safe and data["settled_per_second"] >= GOALS["budget_per_second"]),
            ]
        )
    return lines, summary


def _ledger_section(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    lines = [
        "## 4. Ledger scale",
        "",
        '`client.ledger.report(group_by="model", since=..., until=...)` for one calendar month on a',
        "SQLite ledger. Rows are generated with a fixed seed over ten models and inserted in time",
        "order, in batches inside one transaction. Every row falls inside the reported month, so the",
        f"report sums all of them. Each size is timed {result['repeats']} times.",
        "",
    ]
    rows = [
        [
            f"{step['rows']:,}",
            f"{step['insert_seconds']:.2f} s",
            _ms(step["first_seconds"]),
            _ms(step["median_seconds"]),
            str(step["groups"]),
        ]
        for step in result["steps"]
    ]
    lines += _table(["Rows", "Insert time (new rows)", "First report", "Median report", "Groups"], rows)
    lines.append("")
    largest = result["steps"][-1]
    summary = [
        [
            f"Monthly report over {largest['rows']:,} SQLite rows",
            f"<= {GOALS['ledger_seconds']:.0f} s",
            f"{largest['median_seconds']:.2f} s",
            _verdict(largest["rows"] >= 1_000_000 and largest["median_seconds"] <= GOALS["ledger_seconds"]),
        ]
    ]
    return lines, summary


def _startup_section(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    lines = [
        "## 5. Start-up",
        "",
        "A fresh interpreter imports costkit, builds the process-wide plugin manager with every",
        "installed plugin and reads its driver, token-extractor and pricing-source registries",
        f"({' / '.join(str(count) for count in result['registries'])} entries). The child times that with",
        "`time.perf_counter`; interpreter start is excluded and shown on its own. Bytecode is cached,",
        f"as in a normal installation. {result['repeats']} runs.",
        "",
    ]
    rows = [
        ["Import and discovery, median", _ms(result["median_seconds"])],
        ["Import and discovery, p95", _ms(result["p95_seconds"])],
        ["Whole child process, median", _ms(result["process_median_seconds"])],
        ["Bare interpreter (`python -c pass`), median", _ms(result["bare_interpreter_median_seconds"])],
        ["Modules loaded", str(result["modules_loaded"])],
        ["Heavy modules loaded", ", ".join(result["heavy_modules"]) or "none"],
    ]
    lines += _table(["Measure", "Value"], rows)
    lines += ["", "Largest own import times in one `python -X importtime` run:", ""]
    lines += _table(
        ["Module", "Own time", "Cumulative"],
        [
            [entry["module"], f"{entry['self_ms']:.1f} ms", f"{entry['cumulative_ms']:.1f} ms"]
            for entry in result["slowest_imports"]
        ],
    )
    lines.append("")
    summary = [
        [
            "Start-up (import and plugin discovery)",
            f"<= {GOALS['startup_ms']:.0f} ms",
            _ms(result["median_seconds"]),
            _verdict(result["median_seconds"] * 1e3 <= GOALS["startup_ms"]),
        ]
    ]
    return lines, summary


def render(results: dict[str, Any], fixes: str) -> str:
    """Return the Markdown page for ``results``, with the record of fixes appended."""
    machine = results["machine"]
    versions = results["versions"]
    sections: list[str] = []
    summary: list[list[str]] = []
    renderers = {
        "cost": _cost_section,
        "pipeline": _pipeline_section,
        "budget": _budget_section,
        "ledger": _ledger_section,
        "startup": _startup_section,
    }
    for name in ("cost", "pipeline", "budget", "ledger", "startup"):
        if name not in results["benchmarks"]:
            continue
        lines, rows = renderers[name](results["benchmarks"][name])
        sections += lines
        summary += rows

    memory = machine["memory_gib"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py (nox -s bench); edit the scripts or benchmarks/fixes.md. -->",
        "",
        "costkit measured side by side with its peers, in one run of `nox -s bench`",
        f"({results['seconds']:.0f} s) on {machine['date']}. The machine also ran other work at the",
        "time, so single figures vary between runs: by up to about a third, and by up to about a",
        "half for the CPU-bound budget benchmark. Ratios are taken within one run, with the tools",
        "taking turns.",
        "",
        "## Machine and versions",
        "",
    ]
    lines += _table(
        ["Item", "Value"],
        [
            ["CPU", machine["cpu"]],
            ["Cores", str(machine["cores"])],
            ["Memory", f"{memory:.1f} GiB" if memory else "unknown"],
            ["OS", machine["os"]],
            ["Python", f"{machine['python']} ({machine['python_implementation']})"],
            *[[name, version or "not installed"] for name, version in versions.items()],
        ],
    )
    lines += ["", "## Goals", ""]
    lines += _table(["Benchmark", "Goal", "Result", "Verdict"], summary)
    lines += ["", *sections, fixes.strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the benchmarks, write the JSON results and the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "benchmarks.md", help="the Markdown page to write"
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="the raw results to write"
    )
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run only these benchmarks")
    parser.add_argument("--quick", action="store_true", help="few repeats and small sizes, to check the scripts")
    parser.add_argument(
        "--render-only", action="store_true", help="write the page from the existing JSON results without running"
    )
    arguments = parser.parse_args(argv)
    output = arguments.output.resolve()
    json_path = arguments.json.resolve()

    if arguments.render_only:
        results = json.loads(json_path.read_text())
        output.write_text(render(results, (ROOT / "benchmarks" / "fixes.md").read_text()))
        print(f"Wrote {output}", file=sys.stderr)
        return 0

    _isolate_settings()
    from _harness import install_network_guard, machine_facts, versions

    install_network_guard()
    began = time.perf_counter()
    benchmarks: dict[str, Any] = {}
    for name in arguments.only or BENCHMARKS:
        print(f"Running the {name} benchmark...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        benchmarks[name] = _run_isolated(name, arguments.quick)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    results = {
        "machine": machine_facts(),
        "versions": versions(),
        "seconds": time.perf_counter() - began,
        "quick": arguments.quick,
        "benchmarks": benchmarks,
    }
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    fixes = (ROOT / "benchmarks" / "fixes.md").read_text()
    output.write_text(render(results, fixes))
    print(f"Wrote {output} and {json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
