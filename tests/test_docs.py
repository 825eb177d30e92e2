"""Run every code example of README.md and docs/*.md, against fake providers on loopback.

The ```python blocks of one page run in order in one module namespace, so a later block can
use the names of an earlier one. A block whose first line is ``# file: PATH`` (Python, TOML or
any other language) is written to PATH in the working directory instead, which is on
``sys.path``, so later blocks can import it and the config loader finds it. Shell blocks
(```bash, ```console) run their ``costkit ...`` and ``python -m pytest ...`` lines.

Examples are written as a user writes them: provider="openai", keys from the environment.
The test supplies that environment: a fake provider server on 127.0.0.1 serving recorded
bodies (see ``_doc_servers``), the providers' base-URL variables pointing at it, a sentinel
API key that must never appear in any output, and a temporary SQLite ledger.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from _doc_servers import DocServer, provider_environment, running_server

from costkit.testing import fixtures_dir

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

SENTINEL_KEY = "sk-costkit-docs-sentinel-6b1f0c2d"
"""The API key the examples receive. It must not appear in any output or request URL."""

GENERATED_PAGES = {"docs/benchmarks.md"}
"""Pages written by the benchmark runs; links to them may point ahead of the first run."""

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w+-]*)[ \t]*$")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
FILE_MARKER = re.compile(r"^(?:#|//|--)\s*file:\s*(?P<path>\S+)\s*$")

PYTHON_LANGUAGES = {"python", "py"}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}

# Installation lines set up the machine. The test environment has everything installed, so
# they are not run. Lines that export variables are not run either, because the test sets the
# environment the examples need.
INSTALL_PREFIXES = ("pip install", "nox ", "uv pip install", "python -m pip install")
ENVIRONMENT_PREFIXES = ("export ",)
COMMAND_TIMEOUT_SECONDS = 120


@attrs.frozen
class Block:
    """One fenced code block of a page."""

    language: str
    code: str
    line: int
    "Line number of the opening fence, from 1."
    not_run: str | None = None
    "The reason given by a ``<!-- not run: REASON -->`` comment right above the block."

    @property
    def target_file(self) -> str | None:
        """The path named by a ``# file: PATH`` first line, or ``None``."""
        first = self.code.split("\n", 1)[0].strip()
        match = FILE_MARKER.match(first)
        return match.group("path") if match else None


def parse_blocks(text: str) -> list[Block]:
    """Return the fenced code blocks of a Markdown text, in order."""
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        start = index
        closing = match.group("indent") + match.group("fence")
        body = []
        index += 1
        while index < len(lines) and lines[index].rstrip() != closing:
            body.append(lines[index])
            index += 1
        index += 1
        previous = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
        reason = NOT_RUN.match(previous)
        blocks.append(
            Block(
                language=match.group("lang").lower(),
                code=textwrap.dedent("\n".join(body)) + "\n",
                line=start + 1,
                not_run=reason.group("reason") if reason else None,
            )
        )
    return blocks


def shell_commands(block: Block) -> list[str]:
    """Return the command lines of a shell block: the ``$ `` lines of a console block, every other line of bash."""
    commands = []
    for raw in block.code.splitlines():
        line = raw.strip()
        if block.language == "console":
            if not line.startswith("$ "):
                continue  # output shown in the page
            line = line[2:].strip()
        if not line or line.startswith("#"):
            continue
        commands.append(line)
    return commands


def run_command(command: str, cwd: Path, where: str) -> str:
    """Run one shell line of a page and return its output, failing the test on a non-zero exit status."""
    if command.startswith(INSTALL_PREFIXES) or command.startswith(ENVIRONMENT_PREFIXES):
        return ""
    if "#" in command:
        command = command.split(" #", 1)[0].strip()
    arguments = shlex.split(command)
    environment = dict(os.environ)
    while arguments and ASSIGNMENT.match(arguments[0]):
        name, _, value = arguments.pop(0).partition("=")
        environment[name] = value
    if arguments[0] == "costkit":
        executable = Path(sys.executable).with_name("costkit")
        argv = [str(executable) if executable.exists() else "costkit", *arguments[1:]]
    elif arguments[:3] == ["python", "-m", "pytest"]:
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments[3:]]
    else:
        pytest.fail(
            f"{where}: the command {command!r} is neither `costkit ...`, `python -m pytest ...` nor an "
            "installation line; mark its block with <!-- not run: REASON --> if it cannot run here"
        )
    completed = subprocess.run(
        argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{where}: `{command}` exited with {completed.returncode}:\n{output}"
    return output


def write_file(block: Block, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write a ``# file:`` block under ``cwd`` and forget any stale import of its package."""
    path = block.target_file
    assert path is not None
    target = (cwd / path).resolve()
    assert target.is_relative_to(cwd.resolve()), f"a doc file block writes outside the working directory: {path}"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = block.code.split("\n", 1)
    target.write_text(lines[1] if len(lines) > 1 else "", encoding="utf-8")
    if target.suffix == ".py":
        package = Path(path).parts[0].removesuffix(".py")
        for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
            monkeypatch.delitem(sys.modules, name)


@pytest.fixture
def doc_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DocServer]:
    """Start the fake providers and point every plugin and the ledger at test-only places."""
    if fixtures_dir() is None:
        pytest.skip("recorded provider payloads not found; set COSTKIT_FIXTURES to their folder")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("COSTKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    monkeypatch.setenv("COLUMNS", "160")
    with running_server() as server:
        for name, value in provider_environment(server, SENTINEL_KEY).items():
            monkeypatch.setenv(name, value)
        # Examples may set variables themselves, as the configuration page does, so restore them.
        saved = dict(os.environ)
        try:
            yield server
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.mark.parametrize("page", DOC_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_doc_examples(
    page: Path,
    doc_server: DocServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every code example of the page runs, and the API key never shows in its output."""
    relative = page.relative_to(ROOT)
    blocks = parse_blocks(page.read_text(encoding="utf-8"))
    module = types.ModuleType(f"costkit_docs_{page.stem.replace('-', '_').lower()}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.syspath_prepend(str(tmp_path))
    outputs = []

    for block in blocks:
        where = f"{relative}:{block.line}"
        if block.not_run is not None:
            continue
        if block.target_file is not None:
            write_file(block, tmp_path, monkeypatch)
        elif block.language in PYTHON_LANGUAGES:
            code = compile(block.code, f"{relative}:{block.line}", "exec")
            exec(code, module.__dict__)
        elif block.language in SHELL_LANGUAGES:
            for command in shell_commands(block):
                outputs.append(run_command(command, tmp_path, where))

    captured = capsys.readouterr()
    outputs += [captured.out, captured.err, caplog.text]
    for output in outputs:
        assert SENTINEL_KEY not in output
    for request in doc_server.requests:
        assert SENTINEL_KEY not in request["path"] + "?" + request["query"]


def test_doc_files_found() -> None:
    """The README and the documentation pages exist, so the examples test has pages to run."""
    names = {path.name for path in DOC_FILES}
    assert "README.md" in names
    assert "index.md" in names


def test_parse_blocks_reads_opt_out() -> None:
    """A not-run comment right above a fence marks only that block."""
    text = "<!-- not run: needs a GPU -->\n```python\nx = 1\n```\n\n```bash\ncostkit plugins\n```\n"
    blocks = parse_blocks(text)
    assert [block.language for block in blocks] == ["python", "bash"]
    assert blocks[0].not_run == "needs a GPU"
    assert blocks[1].not_run is None


def test_shell_commands_console_prompts() -> None:
    """Console blocks run only their prompt lines, and bash blocks every non-comment line."""
    console = Block(language="console", code="$ costkit plugins\nplugin  hooks\n", line=1)
    bash = Block(language="bash", code="# list them\ncostkit plugins\n", line=1)
    assert shell_commands(console) == ["costkit plugins"]
    assert shell_commands(bash) == ["costkit plugins"]


def test_relative_links_resolve() -> None:
    """Every relative Markdown link of the pages points to an existing file."""
    link = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")
    broken = []
    for page in DOC_FILES:
        for match in link.finditer(page.read_text(encoding="utf-8")):
            target = match.group("target")
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (page.parent / target).resolve()
            if not path.exists() and path.relative_to(ROOT).as_posix() not in GENERATED_PAGES:
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_environment_uses_loopback(doc_server: DocServer) -> None:
    """The provider variables the examples see point at the loopback server only."""
    for name in ("OPENAI_BASE_URL", "XAI_BASE_URL", "GEMINI_BASE_URL", "OLLAMA_HOST"):
        assert os.environ[name].startswith("http://127.0.0.1:")
