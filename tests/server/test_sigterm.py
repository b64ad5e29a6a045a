"""SIGTERM (systemd, Docker, Kubernetes) stops `splitlab serve`, `demo` and `scheduler` as
cleanly as Ctrl-C.

Real processes: the server is started with ``python -m splitlab serve``, loaded with
concurrent batches, and stopped by a signal while the batches keep coming. Afterwards the
DuckDB file itself is opened (nothing replays the durable log first) and every acknowledged
event must be in it, with no ``.wal`` left behind.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.collector.collector_helpers import free_port
from tests.server.serve_process import (
    ARTICLE,
    ServeProcess,
    Traffic,
    child_env,
    stop,
    stored_event_ids,
    wait_healthy,
    wal_of,
)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_under_load_leaves_every_acknowledged_event_in_duckdb(
    tmp_path: Path, signum: int
) -> None:
    """A signal under load: the final load runs, every acknowledged event is in the file."""
    db = tmp_path / "serve.duckdb"
    serve = ServeProcess(db).start()
    try:
        serve.register(json.loads(ARTICLE.read_text()))
        traffic = Traffic(serve.url, serve.admin)
        with traffic.running():
            traffic.wait_for(2_000)
            code = serve.stop(signum)
    finally:
        serve.stop(signal.SIGKILL)
    assert traffic.count() >= 2_000
    stored = stored_event_ids(db)
    missing = traffic.acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events are not in the DuckDB file"
    assert not wal_of(db).exists(), "the database was closed cleanly"
    assert "Traceback" not in serve.stderr
    if signum == signal.SIGTERM:
        assert code == -signal.SIGTERM, "still ends by SIGTERM, as a supervisor expects"


def test_sigterm_while_idle_closes_the_database(tmp_path: Path) -> None:
    """SIGTERM on an idle server: exits by SIGTERM with the database closed (no .wal)."""
    db = tmp_path / "idle.duckdb"
    serve = ServeProcess(db).start()
    try:
        serve.register(json.loads(ARTICLE.read_text()))  # a write, so DuckDB has a WAL
        code = serve.stop(signal.SIGTERM)
    finally:
        serve.stop(signal.SIGKILL)
    assert code == -signal.SIGTERM
    assert not wal_of(db).exists()
    assert stored_event_ids(db) == set()


@pytest.mark.slow
def test_demo_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`splitlab demo` serving: SIGTERM loads the events just sent and closes the database."""
    db = tmp_path / "demo.duckdb"
    port = free_port()
    command = [sys.executable, "-m", "splitlab", "demo", "--db", str(db), "--port", str(port),
               "--scale", "0.05", "--days", "5"]  # fmt: skip
    process = subprocess.Popen(
        command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode() for line in iter(process.stdout.readline, b"")),
        daemon=True,
    )  # the pipe is drained while the demo runs, so it never blocks on a full pipe
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, "splitlab demo", timeout=120)
        key = next(m.group(1) for line in lines if (m := re.search(r"SDK key:\s+(\S+)", line)))
        traffic = Traffic(url, {"Authorization": f"Bearer {key}"}, clients=2)
        with traffic.running():
            traffic.wait_for(500)
            code = stop(process, signal.SIGTERM)
    finally:
        stop(process, signal.SIGKILL)
        reader.join(timeout=10)
    assert code == -signal.SIGTERM
    missing = traffic.acknowledged - stored_event_ids(db)
    assert not missing, f"{len(missing)} acknowledged events are not in the DuckDB file"
    assert not wal_of(db).exists()


def test_scheduler_loop_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`splitlab scheduler` (a loop): SIGTERM closes the database (no .wal) and exits by it."""
    db = tmp_path / "looks.duckdb"
    ServeProcess(db)  # creates the database (and keys) without serving it
    command = [sys.executable, "-m", "splitlab", "scheduler", "--db", str(db), "--poll", "1"]
    process = subprocess.Popen(command, env=child_env(), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not wal_of(db).exists():  # the scheduler has opened (and written to) the file
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        code = stop(process, signal.SIGTERM)
    finally:
        stop(process, signal.SIGKILL)
    assert code == -signal.SIGTERM
    assert not wal_of(db).exists()
