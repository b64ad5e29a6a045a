"""`splitlab demo` removes its temporary database directory however it ends (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from splitlab.server.run import free_port

pytestmark = pytest.mark.slow

#: The quick demo of tests/server/test_demo.py: about 20 s to build on 2 cores. Only the
#: SIGTERM-while-building test needs a build that lasts; it uses this one.
QUICK = ("--scale", "0.3", "--days", "6")
#: The smallest demo the CLI accepts (about 12 s): these tests check the fate of the
#: temporary directory, which holds the same single database file at any scale.
SMALLEST = ("--scale", "0.05", "--days", "5")
BUILD_TIMEOUT = 240.0


@contextmanager
def demo_process(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`python -m splitlab demo ARGS` with its own TMPDIR (so the test sees every directory it
    creates) and its output in a file; killed in teardown if still running."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    log = tmp_path / "demo.log"
    env = {**os.environ, "TMPDIR": str(scratch), "COLUMNS": "200"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "splitlab", "demo", *args],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            yield process, scratch
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    """Poll `condition()` every 0.1 s until true; fail if the process exits or time runs out."""
    deadline = time.monotonic() + BUILD_TIMEOUT
    while not condition():
        assert process.poll() is None, f"the demo exited ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {BUILD_TIMEOUT:.0f} s"
        time.sleep(0.1)


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _output(tmp_path: Path) -> str:
    return (tmp_path / "demo.log").read_text(encoding="utf-8", errors="replace")


def test_no_serve_removes_the_temporary_directory(tmp_path: Path) -> None:
    """`demo --no-serve` builds in a temporary directory, prints the summary, exits 0 and
    leaves no directory behind (it used to leave a ~90 MB database on every run)."""
    with demo_process(tmp_path, "--no-serve", *SMALLEST) as (process, scratch):
        assert process.wait(timeout=BUILD_TIMEOUT) == 0, _output(tmp_path)
        assert "Admin key:" in _output(tmp_path)
        assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_served_demo_removes_the_temporary_directory(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C (SIGINT) or SIGTERM while the demo serves: the server stops, the process ends
    and the temporary directory with the database is gone."""
    port = free_port()
    with demo_process(tmp_path, "--port", str(port), *SMALLEST) as (process, scratch):
        _wait_for(lambda: _serving(port), process, "server")
        assert len(list(scratch.iterdir())) == 1  # the demo's directory, while it runs
        process.send_signal(signum)
        process.wait(timeout=60)
        assert list(scratch.iterdir()) == [], _output(tmp_path)
        assert "Removed the demo's temporary directory" in _output(tmp_path)


def test_sigterm_while_building_removes_the_temporary_directory(tmp_path: Path) -> None:
    """SIGTERM during the half-minute build ends the demo by SIGTERM, as a supervisor expects,
    after the half-built database's directory is removed."""
    with demo_process(tmp_path, "--no-serve", *QUICK) as (process, scratch):
        _wait_for(lambda: "Building the demo in" in _output(tmp_path), process, "build")
        time.sleep(1.0)  # into the simulation, with the store open and its loader running
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM
        assert list(scratch.iterdir()) == [], _output(tmp_path)


def test_a_database_given_with_db_is_kept(tmp_path: Path) -> None:
    """With --db the database is the user's: it is kept when the demo exits (the smallest
    demo: only the file's fate is tested here)."""
    db = tmp_path / "mine" / "demo.duckdb"
    args = ("--no-serve", "--db", str(db), *SMALLEST)
    with demo_process(tmp_path, *args) as (process, scratch):
        assert process.wait(timeout=BUILD_TIMEOUT) == 0, _output(tmp_path)
    assert db.is_file() and db.stat().st_size > 0
    assert list(scratch.iterdir()) == []
