"""The collector run alone: ``python -m splitlab.server.collector --experiments FILE``."""

from __future__ import annotations

import signal
from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest

from splitlab.tracking.events import Event, now_ms
from tests.server.serve_process import Traffic, stop, stored_event_ids, wal_of

from .collector_helpers import ROOT, CollectorProcess


def test_standalone_collector_checks_the_given_experiments(tmp_path: Path) -> None:
    """Given experiments are accepted, others refused; SIGTERM loads the log before exiting."""
    example = ROOT / "examples" / "exp-checkout-flow-v3.json"
    collector = CollectorProcess(
        tmp_path / "s.duckdb", "--experiments", str(example), "--load-interval", "60"
    )
    collector.start()
    try:
        ts = now_ms() - 1000
        batch = [
            Event("ok", "exposure", "exp-checkout-flow-v3", "variant-a", "u1", ts),
            Event("bad", "exposure", "exp-elsewhere", "variant-a", "u1", ts),
        ]
        answer = httpx.post(f"{collector.url}/v1/events", content=msgspec.json.encode(batch))
        assert answer.status_code == 200
        body = answer.json()
        assert (body["accepted"], body["rejected"]) == (1, 1)
        assert body["rejections"][0]["field"] == "experimentId"
    finally:
        collector.stop()
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    try:  # loaded at shutdown (no replay happened: nothing opened the store since)
        assert con.execute("SELECT event_id FROM exposures").fetchall() == [("ok",)]
    finally:
        con.close()


@pytest.mark.slow
def test_sigterm_under_load_loads_every_acknowledged_event(tmp_path: Path) -> None:
    """SIGTERM under load: the collector exits by SIGTERM with everything acked in DuckDB."""
    db = tmp_path / "load.duckdb"
    collector = CollectorProcess(db, "--load-interval", "60")
    collector.start()
    assert collector.process is not None
    try:
        traffic = Traffic(collector.url, {})
        with traffic.running():
            traffic.wait_for(2_000)
            code = stop(collector.process, signal.SIGTERM)
    finally:
        if collector.process.poll() is None:
            collector.kill()
    assert code == -signal.SIGTERM
    missing = traffic.acknowledged - stored_event_ids(db)
    assert not missing, f"{len(missing)} acknowledged events are not in the DuckDB file"
    assert not wal_of(db).exists()
