"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, a fresh cluster in a
temporary directory, listening on a free loopback port, stopped afterwards.

PostgreSQL refuses to run as root (CI runs as root), so as root the server runs as the
unprivileged user ``splitlab-pg`` (``scripts/install-system-deps.sh`` creates it; this module
creates it too when missing). Tests that need PostgreSQL skip nowhere: a missing package is an
error that says what to install.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_USER = "splitlab-pg"


def pg_bin() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install -y postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> list[str]:
    """The command prefix that runs a PostgreSQL binary as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
        )
    return ["runuser", "-u", PG_USER, "--"]


@dataclass
class PostgresServer:
    """A running server: connect with :attr:`dsn` (user ``postgres``, trust authentication)."""

    directory: Path
    port: int
    bin: Path
    prefix: list[str]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), *args],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("start", "-w", "-t", "60", "-l", str(self.directory / "log"), "-o", opts)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-w", "-m", mode, check=False)

    def log(self) -> str:
        path = self.directory / "log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh cluster (``initdb``) and yield it running; stop and delete it after."""
    binary = pg_bin()
    prefix = _as_server_user()
    directory = Path(tempfile.mkdtemp(prefix="splitlab-pg-"))
    if prefix:
        shutil.chown(directory, PG_USER)
    server = PostgresServer(directory, _free_port(), binary, prefix)
    try:
        subprocess.run(
            [
                *prefix,
                str(binary / "initdb"),
                "-D",
                str(directory / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
