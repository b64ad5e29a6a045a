"""The server's sticky store: durable at the fsync of its log, loaded into DuckDB behind.

Crashes are real: a child process is killed with SIGKILL after its puts were acknowledged,
and the parent reopens the files. A failing disk is a real one too: the child lowers its
file-size limit (RLIMIT_FSIZE), so the log's write fails with EFBIG as on a full disk.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import msgspec
import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.result import Reason
from splitlab.assignment.sticky import StickyStoreError
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog
from splitlab.store.sticky import DuckDBStickyStore
from tests.assignment.assignment_helpers import experiment

EID = "exp-test"


def open_store(tmp: Path, **kwargs: object) -> tuple[duckdb.DuckDBPyConnection, DuckDBStickyStore]:
    con = duckdb.connect(str(tmp / "s.duckdb"))
    return con, DuckDBStickyStore(con, log_dir=tmp / "s.log", **kwargs)  # type: ignore[arg-type]


def table(tmp: Path) -> dict[tuple[str, str], str]:
    """What the DuckDB file holds, read with a connection of its own."""
    con = duckdb.connect(str(tmp / "s.duckdb"))
    try:
        rows = con.execute("SELECT * FROM sticky_assignments").fetchall()
    except duckdb.CatalogException:
        rows = []
    con.close()
    return {(e, u): v for e, u, v in rows}


def test_close_loads_the_log_and_reopening_keeps_every_variant(tmp_path: Path) -> None:
    con, store = open_store(tmp_path, load_interval_s=3600.0)
    kept = {f"u{i}": store.put(EID, f"u{i}", ("a", "b", "c")[i % 3]) for i in range(500)}
    assert table(tmp_path) == {}  # in memory and the log, not yet in the table
    assert store.count(EID) == 500  # count loads first
    store.close()
    con.close()
    assert table(tmp_path) == {(EID, u): v for u, v in kept.items()}
    con, again = open_store(tmp_path)
    assert {u: again.get(EID, u) for u in kept} == kept
    assert again.put(EID, "u1", "c") == kept["u1"]  # a kept variant never changes
    again.close()
    con.close()


def test_loaded_records_leave_memory_and_the_bound_holds(tmp_path: Path) -> None:
    con, store = open_store(tmp_path, load_interval_s=3600.0, max_unloaded=5, cache_size=3)
    for i in range(5):
        store.put(EID, f"u{i}", "a")
    with pytest.raises(StickyStoreError, match="waiting to be loaded"):
        store.put(EID, "u5", "a")
    store.flush()  # the loader moves them into the table; memory is free again
    assert store.put(EID, "u0", "z") == "a"  # past the cache (3), found in the table
    assert store.put(EID, "u5", "b") == "b"
    assert table(tmp_path) == {(EID, f"u{i}"): "a" for i in range(5)}
    # More kept units than the cache holds: the evicted ones are read back from the table.
    assert [store.get(EID, f"u{i}") for i in range(6)] == ["a"] * 5 + ["b"]
    store.close()
    con.close()


def test_racing_puts_keep_one_variant_per_unit_while_the_loader_runs(tmp_path: Path) -> None:
    """Eight threads put different variants for the same units at the same moment (a barrier
    per unit) while the loader moves small batches into the table: every thread gets the
    same variant for a unit, and that is the one in the table and after reopening."""
    con, store = open_store(tmp_path, load_interval_s=0.0, batch_size=7)
    units = [f"u{i}" for i in range(150)]
    barrier = threading.Barrier(8)
    answers: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        got = []
        try:
            for unit in units:
                barrier.wait()
                kept = store.get(EID, unit)
                got.append(kept if kept is not None else store.put(EID, unit, f"v{n}"))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
            barrier.abort()
        answers[n] = got

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(answers[n] == answers[0] for n in range(8))
    assert len(set(answers[0])) > 1  # different threads won different units: they raced
    store.close()
    con.close()
    assert table(tmp_path) == {(EID, u): v for u, v in zip(units, answers[0], strict=True)}


CHILD = """
import sys
import duckdb
from splitlab.store.sticky import DuckDBStickyStore

tmp, interval = sys.argv[1], float(sys.argv[2])
con = duckdb.connect(tmp + "/s.duckdb")
store = DuckDBStickyStore(con, log_dir=tmp + "/s.log", load_interval_s=interval)
for i in range(100_000):
    variant = store.put("exp-test", f"u{i}", ("a", "b", "c")[i % 3])
    print(f"u{i} {variant}", flush=True)  # acknowledged: the put returned
"""


@pytest.mark.parametrize("interval", [3600.0, 0.0])
def test_every_acknowledged_put_survives_a_kill(tmp_path: Path, interval: float) -> None:
    """SIGKILL after 400 acknowledged puts (the child keeps putting meanwhile). With a loader
    that never ran, the log alone brings them back; with one loading all the time, the log
    and the table together."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(interval)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acknowledged: dict[str, str] = {}
    for line in child.stdout:
        unit, variant = line.split()
        acknowledged[unit] = variant
        if len(acknowledged) == 400:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    loaded = table(tmp_path)
    if interval > 100:
        assert loaded == {}  # nothing was loaded: what follows comes from the log
    con, store = open_store(tmp_path)
    assert {u: store.get(EID, u) for u in acknowledged} == acknowledged
    # Nothing acknowledged is given a second variant after the restart.
    assert {u: store.put(EID, u, "z") for u in acknowledged} == acknowledged
    store.close()
    con.close()
    assert len(table(tmp_path)) >= len(acknowledged)


def test_a_torn_last_record_is_cut_off_and_the_rest_replayed(tmp_path: Path) -> None:
    """A crash in the middle of a write leaves part of a record: it was never acknowledged,
    so opening cuts it off and loads the whole records before it."""
    log = AppendLog(tmp_path / "s.log")
    for i in range(20):
        log.append(msgspec.json.encode((EID, f"u{i}", "a")))
    log.close()
    (segment,) = sorted((tmp_path / "s.log").glob("*.log"))
    record = msgspec.json.encode((EID, "torn", "b"))
    header = len(record).to_bytes(4, "little") + (0).to_bytes(4, "little")
    with segment.open("ab") as handle:
        handle.write(header + record[:7])  # the rest never reached the disk
    con, store = open_store(tmp_path)
    assert store.get(EID, "torn") is None
    assert [store.get(EID, f"u{i}") for i in range(20)] == ["a"] * 20
    assert store.put(EID, "torn", "c") == "c"  # the unit was never kept: it can be now
    store.close()
    con.close()
    assert table(tmp_path)[(EID, "torn")] == "c"


def test_a_log_directory_that_cannot_be_made_is_a_sticky_store_error(tmp_path: Path) -> None:
    (tmp_path / "s.log").write_text("a file where the log directory should be")
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    with pytest.raises(StickyStoreError, match="opening the sticky store failed"):
        DuckDBStickyStore(con, log_dir=tmp_path / "s.log")
    con.close()


def test_a_closed_store_answers_sticky_unavailable(tmp_path: Path) -> None:
    con, store = open_store(tmp_path)
    service = ExperimentAssignmentService([experiment(assignment={"sticky": True})], sticky=store)
    kept = service.assign("u0", EID)
    store.close()
    with pytest.raises(StickyStoreError, match="closed"):
        store.put(EID, "u1", "control")
    assert service.assign("u1", EID).reason is Reason.STICKY_UNAVAILABLE
    assert service.assign("u0", EID) == kept  # a kept variant is still known
    assert service.sticky_failures == 1
    con.close()


FULL_DISK = """
import resource, signal, sys
import duckdb
from splitlab.assignment.sticky import StickyStoreError
from splitlab.store.sticky import DuckDBStickyStore

tmp = sys.argv[1]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
con = duckdb.connect(tmp + "/s.duckdb")
store = DuckDBStickyStore(con, log_dir=tmp + "/s.log", load_interval_s=3600.0)
print("kept", store.put("exp-test", "before", "a"))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (10, hard))  # the segment is already longer
try:
    store.put("exp-test", "during", "b")
    print("no error")
except StickyStoreError as exc:
    print("error", exc)
print("kept", store.get("exp-test", "before"))
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space is back
store.flush(timeout=30)  # nothing left to load: the failed record is not waited for
print("flushed")
print("kept", store.put("exp-test", "after", "c"))
print("kept", store.put("exp-test", "during", "d"))
store.close()
"""


def test_a_failing_write_is_a_sticky_store_error_and_the_store_recovers(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "kept a"
    assert lines[1].startswith("error keeping the sticky variant failed"), lines[1]
    assert lines[2:] == ["kept a", "flushed", "kept c", "kept d"]
    # The failed record was cut back: after a restart the unit has the acknowledged variant.
    assert table(tmp_path) == {(EID, "before"): "a", (EID, "after"): "c", (EID, "during"): "d"}


def test_the_server_closes_its_sticky_store_with_the_event_store(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", load_interval_s=0.05)
    ctx = ServerContext.open(store)
    assert isinstance(ctx.sticky, DuckDBStickyStore)
    assert (tmp_path / "s.duckdb.sticky.log").is_dir()
    assert ctx.sticky.put(EID, "u1", "a") == "a"
    store.close()  # loads the sticky log before the connection closes
    assert table(tmp_path) == {(EID, "u1"): "a"}


def test_a_server_whose_sticky_log_cannot_be_opened_says_which(tmp_path: Path) -> None:
    (tmp_path / "s.duckdb.sticky.log").write_text("not a directory")
    with (
        DuckDBStore(tmp_path / "s.duckdb") as store,
        pytest.raises(StoreError, match=r"cannot open the sticky log .*s\.duckdb\.sticky\.log"),
    ):
        ServerContext.open(store)
