"""The durable log: framing, recovery from a torn tail, overload and real write errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from splitlab.store.errors import OverloadedError, StoreError
from splitlab.store.log import AppendLog, Position


def read_all(log: AppendLog) -> list[bytes]:
    return [payload for _, payload in log.read(Position(0, 0), max_bytes=1 << 40)]


def test_records_come_back_in_order(tmp_path: Path) -> None:
    """Appended records are read back in order, with increasing end positions."""
    log = AppendLog(tmp_path)
    try:
        ends = [log.append(f"record {i}".encode()) for i in range(50)]
        assert ends == sorted(ends) and len(set(ends)) == 50
        assert read_all(log) == [f"record {i}".encode() for i in range(50)]
        assert log.durable_position == ends[-1]
    finally:
        log.close()


def test_concurrent_writers_all_land_once(tmp_path: Path) -> None:
    """Records from many threads (sharing group commits) are each stored exactly once."""
    log = AppendLog(tmp_path)

    def write(worker: int) -> None:
        for i in range(200):
            log.append(f"{worker}:{i}".encode())

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        records = read_all(log)
        assert sorted(records) == sorted(f"{w}:{i}".encode() for w in range(8) for i in range(200))
    finally:
        log.close()


def test_segments_rotate_and_reopen_continues(tmp_path: Path) -> None:
    """Small segments rotate; reopening keeps every record and writes in a new segment."""
    log = AppendLog(tmp_path, segment_bytes=100)
    for i in range(20):
        log.append(b"x" * 40 + str(i).encode())
    log.close()
    reopened = AppendLog(tmp_path, segment_bytes=100)
    try:
        assert len(reopened.segments()) > 5
        assert len(read_all(reopened)) == 20
        end = reopened.append(b"after")
        assert end.segment > max(reopened.segments()[:-1])
        assert read_all(reopened)[-1] == b"after"
    finally:
        reopened.close()


@pytest.mark.parametrize("damage", ["torn header", "torn payload", "bad checksum"])
def test_torn_tail_is_cut_on_recovery(tmp_path: Path, damage: str) -> None:
    """A record half-written by a crash is detected by length/CRC and cut off on open."""
    log = AppendLog(tmp_path)
    for i in range(3):
        log.append(f"good {i}".encode())
    log.close()
    segment = tmp_path / f"{log.segments()[-1]:012d}.log"
    intact = segment.stat().st_size
    with segment.open("ab") as handle:
        if damage == "torn header":
            handle.write(b"\x05\x00")
        elif damage == "torn payload":
            handle.write(b"\x20\x00\x00\x00\x00\x00\x00\x00partial")
        else:
            handle.write(b"\x03\x00\x00\x00\xde\xad\xbe\xefabc")
    reopened = AppendLog(tmp_path)
    try:
        assert segment.stat().st_size == intact
        assert read_all(reopened) == [b"good 0", b"good 1", b"good 2"]
    finally:
        reopened.close()


def test_full_queue_refuses_instead_of_growing(tmp_path: Path) -> None:
    """With the queue bound reached, submit raises OverloadedError; accepted ones persist."""
    log = AppendLog(tmp_path, max_pending_bytes=2 << 20)
    payload = os.urandom(1 << 20)
    futures = []
    refused = 0
    try:
        for _ in range(200):
            try:
                futures.append(log.submit(payload))
            except OverloadedError as exc:
                refused += 1
                assert exc.retry_after > 0
        written = [f.result() for f in futures]
        assert refused > 0
        assert len(read_all(log)) == len(written)
    finally:
        log.close()


def test_closed_log_refuses(tmp_path: Path) -> None:
    """Submitting to a closed log raises StoreError."""
    log = AppendLog(tmp_path)
    log.close()
    with pytest.raises(StoreError):
        log.submit(b"late")


WRITE_ERROR_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from splitlab.store.errors import StoreError
    from splitlab.store.log import AppendLog, Position

    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    log = AppendLog(sys.argv[1])
    ok, failed = [], []
    for i in range(40):
        try:
            log.append(b"%03d" % i + b"x" * 4000)
            ok.append(i)
        except StoreError as exc:
            failed.append(i)
            print("error:", exc)
    stored = [int(p[:3]) for _, p in log.read(Position(0, 0), max_bytes=1 << 40)]
    log.close()
    print(json.dumps({"ok": ok, "failed": failed, "stored": stored}))
    """
)


def test_a_real_write_error_fails_only_unsaved_records(tmp_path: Path) -> None:
    """A file-size limit (EFBIG, a real OS error) fails that record; later ones succeed."""
    result = subprocess.run(
        [sys.executable, "-c", WRITE_ERROR_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(result.stdout.splitlines()[-1])
    ok, failed, stored = outcome["ok"], outcome["failed"], outcome["stored"]
    assert failed, "the file-size limit must cause at least one failed write"
    assert "File too large" in result.stdout
    assert stored == ok, "exactly the acknowledged records are stored"
    assert max(ok) > min(failed), "writing recovers in a new segment after the error"
