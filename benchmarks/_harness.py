"""Shared benchmark helpers: timing statistics, a loopback-only network guard, machine facts."""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "blocked_connections",
    "install_network_guard",
    "machine_facts",
    "median",
    "percentile",
    "time_calls",
    "versions",
]

_blocked: list[str] = []


def median(values: Sequence[float]) -> float:
    """Return the median of ``values``."""
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` quantile (0.95 for p95) by linear interpolation between ranks."""
    ordered = sorted(values)
    if not ordered:
        message = "percentile of an empty sequence"
        raise ValueError(message)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_calls(function: Callable[[], Any], calls: int) -> float:
    """Call ``function`` ``calls`` times in a loop; return the seconds per call.

    The garbage collector stays on, as in an application.
    """
    clock = time.perf_counter
    start = clock()
    for _ in range(calls):
        function()
    return (clock() - start) / calls


def calibrate(function: Callable[[], Any], target_seconds: float) -> int:
    """Return how many calls of ``function`` take about ``target_seconds``."""
    calls = 1
    while True:
        spent = time_calls(function, calls) * calls
        if spent >= target_seconds / 10 or calls >= 10_000_000:
            return max(1, int(calls * target_seconds / max(spent, 1e-9)))
        calls *= 10


# --- Network guard ---------------------------------------------------------------------------


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def install_network_guard() -> None:
    """Make every connection to a host other than loopback fail at once, and remember it.

    Peers such as LiteLLM may try to fetch price lists at import or call time. The benchmark
    machine has no route to the internet, so a blocked attempt must fail at once instead of
    waiting for a time-out. :func:`blocked_connections` lists the attempts.
    """
    if getattr(socket, "_costkit_bench_guard", False):
        return
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, (str, bytes)):  # a Unix socket path
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if not _is_loopback(host):
            _blocked.append(f"connect {address!r}")
            message = f"the benchmark blocks connections to {address!r}: only loopback is allowed"
            raise ConnectionRefusedError(message)

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return original_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            _blocked.append(f"resolve {host!r}")
            message = f"the benchmark blocks name lookups of {host!r}: only loopback is allowed"
            raise socket.gaierror(socket.EAI_NONAME, message)
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    socket._costkit_bench_guard = True  # type: ignore[attr-defined]


def blocked_connections() -> list[str]:
    """Return the connection attempts the guard blocked in this process."""
    return list(_blocked)


# --- Machine and versions --------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """Return the CPU model, core count, memory, OS and the date of the run."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _postgres_version() -> str | None:
    from costkit.testing.postgres import find_postgres_bin

    folder = find_postgres_bin()
    if folder is None:
        return None
    try:
        output = subprocess.run(
            [str(folder / "postgres"), "--version"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
    match = re.search(r"\(PostgreSQL\) (\S+)", output)
    return match.group(1) if match else output.strip()


def versions() -> dict[str, str | None]:
    """Return the versions of costkit, the peers, peewee, SQLite and PostgreSQL."""
    import sqlite3

    return {
        "costkit": _distribution_version("costkit"),
        "genai-prices": _distribution_version("genai-prices"),
        "litellm": _distribution_version("litellm"),
        "peewee": _distribution_version("peewee"),
        "httpx": _distribution_version("httpx"),
        "psycopg2-binary": _distribution_version("psycopg2-binary"),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": _postgres_version(),
    }


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Yield consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
