"""Development sessions: tests, lint, typecheck, bench and demo."""

from __future__ import annotations

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
    session.run("ruff", "check", "core", "plugins", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the core package with mypy."""
    install_project(session, "typecheck")
    session.run("mypy")
