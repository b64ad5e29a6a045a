"""Reading another process's log: whole records only, sealed segments finished, none skipped."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import duckdb
import msgspec

from splitlab.store.log import AppendLog, Position
from splitlab.store.logreader import LogReader
from splitlab.store.merge import MergeLoader
from splitlab.store.tables import create_tables
from splitlab.tracking.events import Event, now_ms


def frame(payload: bytes) -> bytes:
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_a_partial_record_is_read_once_it_is_whole(tmp_path: Path) -> None:
    segment = tmp_path / "000000000001.log"
    segment.write_bytes(frame(b"one") + frame(b"two")[:5])  # the writer is mid-append
    reader = LogReader(tmp_path)
    payloads, end = reader.read_next(Position(0, 0), 1 << 20)
    assert payloads == [b"one"]
    assert end == Position(1, 11)
    with segment.open("ab") as handle:
        handle.write(frame(b"two")[5:])
    payloads, end = reader.read_next(end, 1 << 20)
    assert payloads == [b"two"]
    assert end == Position(1, 22)


def test_sealed_segments_are_finished_and_the_newest_is_never_passed(tmp_path: Path) -> None:
    (tmp_path / "000000000001.log").write_bytes(frame(b"a") + frame(b"b"))
    (tmp_path / "000000000002.log").write_bytes(b"")
    (tmp_path / "000000000003.log").write_bytes(frame(b"c") + frame(b"d")[:3])
    reader = LogReader(tmp_path)
    payloads, end = reader.read_next(Position(1, 9), 1 << 20)  # "a" already loaded
    assert payloads == [b"b", b"c"]
    assert end == Position(3, 9)
    reader.release(end)
    assert reader.segments() == [3]


def test_the_byte_budget_splits_a_long_log_without_loss(tmp_path: Path) -> None:
    log = AppendLog(tmp_path, segment_bytes=300)
    written = [f"record-{i}".encode() * 5 for i in range(60)]
    for payload in written:
        log.append(payload)
    log.close()
    reader = LogReader(tmp_path)
    position, seen = Position(0, 0), []
    while True:
        payloads, position = reader.read_next(position, 200)
        if not payloads:
            break
        seen.extend(payloads)
    assert seen == written


def test_merge_loader_counts_a_batch_in_two_logs_once(tmp_path: Path) -> None:
    ts = now_ms()
    batch = [Event(f"e{i}", "metric", "exp", "a", f"u{i}", ts, "m", 1.0) for i in range(50)]
    other = [Event(f"f{i}", "metric", "exp", "a", f"u{i}", ts, "m", 2.0) for i in range(30)]
    encode = msgspec.json.Encoder().encode_lines
    for name, records in (("host-a", [batch, other]), ("host-b", [batch])):
        log = AppendLog(tmp_path / "logs" / name)
        for record in records:
            log.append(encode(record))
        log.close()
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    create_tables(con)
    merge = MergeLoader(con, tmp_path / "logs", tmp_path)
    assert merge.catch_up() == 3
    rows = con.execute("SELECT count(*), count(DISTINCT event_id) FROM metric_events").fetchall()
    assert rows == [(80, 80)]
    positions = dict(con.execute("SELECT log_id, segment FROM splitlab_log_position").fetchall())
    assert set(positions) == {"log:host-a", "log:host-b"}
    # A second loader over the same database resumes from the stored positions: no reload.
    assert MergeLoader(con, tmp_path / "logs", tmp_path).catch_up() == 0
    assert con.execute("SELECT count(*) FROM metric_events").fetchall() == [(80,)]
