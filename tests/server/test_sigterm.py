"""SIGTERM (systemd, Docker, Kubernetes) stops `splitlab serve` as cleanly as Ctrl-C.

Real processes: the server is started with ``python -m splitlab serve``, loaded with
concurrent batches, and stopped by a signal while the batches keep coming. Afterwards the
DuckDB file itself is opened (nothing replays the durable log first) and every acknowledged
event must be in it, with no ``.wal`` left behind.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.server.serve_process import ARTICLE, ServeProcess, Traffic, stored_event_ids, wal_of


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_under_load_leaves_every_acknowledged_event_in_duckdb(
    tmp_path: Path, signum: int
) -> None:
    """A signal under load: the final load runs, every acknowledged event is in the file."""
    db = tmp_path / "serve.duckdb"
    # A long load interval: what is in the file after the stop was loaded by the shutdown.
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
