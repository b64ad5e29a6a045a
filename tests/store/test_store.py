"""DuckDBStore: durable ingest, exactly-once loading, replay after a crash, dedup by eventId."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from splitlab.store import DuckDBStore, StoreError
from splitlab.tracking.events import Event

from .store_helpers import T0, experiment


def events(prefix: str, count: int, start: int = 0) -> list[Event]:
    out = []
    for i in range(start, start + count):
        unit = f"{prefix}-u{i}"
        out.append(Event(f"{prefix}-x{i}", "exposure", "sim", "a", unit, T0 + i))
        out.append(Event(f"{prefix}-m{i}", "metric", "sim", "a", unit, T0 + i + 5, "purchase", 1.0))
    return out


def stored(store: DuckDBStore) -> tuple[int, int]:
    """(rows, distinct event ids) over both event tables, after loading."""
    store.flush()
    with store.lock:
        row = store.connection.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM "
            "(SELECT event_id FROM exposures UNION ALL SELECT event_id FROM metric_events)"
        ).fetchone()
    return int(row[0]), int(row[1])


def test_summary_reads_its_own_writes(store: DuckDBStore) -> None:
    """Events acknowledged just before summary() are counted even if not yet loaded."""
    store.ingest(events("p", 30))
    sums = store.summary(experiment())
    assert sums.units["a"] == 30
    assert sums.metrics["purchase"]["a"].sum == 30


def test_repeated_batch_is_reported_and_stored_once(store: DuckDBStore) -> None:
    """A batch sent twice is answered as duplicates and stored once."""
    batch = events("d", 10)
    first = store.ingest(batch)
    again = store.ingest(list(reversed(batch)))
    assert (first.accepted, first.duplicates) == (20, 0)
    assert (again.accepted, again.duplicates) == (0, 20)
    assert stored(store) == (20, 20)


def test_duplicates_inside_one_batch(store: DuckDBStore) -> None:
    """An eventId repeated inside one batch is written once."""
    batch = events("i", 5)
    result = store.ingest(batch + batch[:3])
    assert (result.accepted, result.duplicates) == (10, 3)
    assert stored(store) == (10, 10)


def test_duplicates_after_restart_are_dropped_by_the_loader(tmp_path: Path) -> None:
    """After a restart the recent-ids memory is empty; the loader's anti-join still dedups."""
    path = tmp_path / "e.duckdb"
    batch = events("r", 25)
    with DuckDBStore(path) as first:
        first.ingest(batch)
    with DuckDBStore(path) as second:
        result = second.ingest(batch)
        assert result.accepted == 50
        assert stored(second) == (50, 50)


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from splitlab.store import DuckDBStore
    from tests.store.test_store import events

    store = DuckDBStore(sys.argv[1], load_interval_s=3600)
    result = store.ingest(events("c", 40))
    print(result.accepted, store.loaded_position, flush=True)
    os._exit(0)  # die without loading or closing: only the fsync'd log has the events
    """
)


def test_acknowledged_events_survive_a_crash_before_loading(tmp_path: Path) -> None:
    """Events acknowledged by a process that dies before loading are replayed on the next start."""
    path = tmp_path / "e.duckdb"
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path), root],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.split()[0] == "80" and "offset=0)" in done.stdout, "nothing loaded"
    with DuckDBStore(path) as reopened:
        assert stored(reopened) == (80, 80)
    with DuckDBStore(path) as again:
        assert stored(again) == (80, 80), "the recorded position prevents loading twice"


def test_loaded_log_segments_are_deleted(tmp_path: Path) -> None:
    """Once loaded, full log segments are removed, so the log does not grow without bound."""
    log_dir = tmp_path / "log"
    with DuckDBStore(tmp_path / "e.duckdb", segment_bytes=2000, log_dir=log_dir) as store:
        for k in range(20):
            store.ingest(events(f"s{k}", 10))
        store.flush()
        assert len(list(log_dir.glob("*.log"))) <= 2
        assert stored(store) == (400, 400)


def test_connection_is_shared_under_the_lock(store: DuckDBStore) -> None:
    """Other components can keep their tables in the same DuckDB file via connection + lock."""
    with store.lock:
        store.connection.execute("CREATE TABLE side (x INTEGER)")
        store.connection.execute("INSERT INTO side VALUES (1)")
    store.ingest(events("s", 3))
    assert stored(store) == (6, 6)
    with store.lock:
        assert store.connection.execute("SELECT x FROM side").fetchall() == [(1,)]


def test_naive_cutoff_is_refused(store: DuckDBStore) -> None:
    """A cut-off without a timezone is ambiguous and refused with a clear message."""
    with pytest.raises(StoreError, match="timezone-aware"):
        store.summary(experiment(), cutoff=datetime(2026, 1, 1))


def test_retry_with_a_new_timestamp_after_restart_is_stored_once(tmp_path: Path) -> None:
    """A retried request re-emits its eventId an hour later: still one row (defect 7)."""
    path = tmp_path / "e.duckdb"
    first = Event("order-7:checkout", "metric", "sim", "a", "u1", T0, "purchase", 1.0)
    later = Event("order-7:checkout", "metric", "sim", "a", "u1", T0 + 3_600_000, "purchase", 1.0)
    with DuckDBStore(path) as store:
        store.ingest([first])
    with DuckDBStore(path) as store:  # a new process: the recent-ids memory is empty
        store.ingest([later])
        assert stored(store) == (1, 1)


def test_dedup_window_is_settable(tmp_path: Path) -> None:
    """Outside the dedup window a re-used eventId is a new event (the documented limit)."""
    path = tmp_path / "e.duckdb"
    first = Event("reused", "metric", "sim", "a", "u1", T0, "purchase", 1.0)
    later = Event("reused", "metric", "sim", "a", "u1", T0 + 7_200_000, "purchase", 1.0)
    with DuckDBStore(path, dedup_window_s=3600) as store:
        store.ingest([first])
    with DuckDBStore(path, dedup_window_s=3600) as store:
        store.ingest([later])
        assert stored(store) == (2, 1)
