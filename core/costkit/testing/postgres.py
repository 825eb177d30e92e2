"""A throwaway PostgreSQL server for tests and benchmarks.

It runs the machine's ``initdb`` and ``pg_ctl`` (from ``PATH``, ``COSTKIT_TEST_POSTGRES_BIN``
or ``/usr/lib/postgresql/*/bin``) on a free loopback port, in a temporary folder. PostgreSQL
refuses to run as root, so as root the server runs as the unprivileged ``postgres`` user (or
``nobody``) through ``runuser``.

When ``COSTKIT_TEST_POSTGRES_URL`` names a running server, that one is used instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ["URL_ENV", "PostgresServer", "find_postgres_bin", "running_postgres"]

URL_ENV: Final = "COSTKIT_TEST_POSTGRES_URL"
BIN_ENV: Final = "COSTKIT_TEST_POSTGRES_BIN"


def find_postgres_bin() -> Path | None:
    """Return the folder with ``initdb`` and ``pg_ctl``, or ``None`` when PostgreSQL is not installed."""
    configured = os.environ.get(BIN_ENV)
    candidates = [configured] if configured else []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    message = "running as root, but no unprivileged user (postgres or nobody) exists to run PostgreSQL"
    raise RuntimeError(message)


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="costkit-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database as the ``costkit`` superuser."""
        return f"postgresql://costkit@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> None:
        """Create the cluster (once) and start the server."""
        if self.user is not None:
            shutil.chown(self.folder, user=self.user)
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "costkit", "--auth=trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
            "-c max_connections=200 -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        """Stop the server, keeping its data (``start`` brings it back)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete its folder."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def create_database(server_url: str) -> str:
    """Create a new empty database on the server; return its URL."""
    import psycopg2

    name = f"costkit_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(server_url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def running_postgres() -> Iterator[str | None]:
    """Yield the URL of a running server: the configured one, or a throwaway one (``None`` if impossible)."""
    configured = os.environ.get(URL_ENV)
    if configured:
        yield configured
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        yield None
        return
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server.url
    finally:
        server.remove()
