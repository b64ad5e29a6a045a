"""A durable append-only log with group commit: what makes an acknowledgement true.

Records are framed as ``[length: u32][crc32: u32][payload]`` (little-endian) and appended to
segment files ``<number>.log`` in one directory. One writer thread owns the file: it takes
every record queued while the previous ``fsync`` ran, writes them in one go, syncs once, and
only then resolves their futures (group commit). A caller is told "durable" only after that.

Failure rules:

* A write or sync error (disk full, a file-size limit, an I/O error) fails every record of that
  group with :class:`StoreError`; the file is cut back to its last durable length and the
  writer moves on to a fresh segment, so later groups can succeed once space is back.
* The queue is bounded in bytes; beyond it :meth:`AppendLog.submit` raises
  :class:`OverloadedError` at once instead of letting memory grow.
* After a crash, the last segment may end in a torn record. :meth:`AppendLog.open` checks the
  tail frame by frame (length and CRC) and cuts the file at the first bad frame. Writing
  always resumes in a new segment, so positions never go backwards.

Positions are ``(segment, offset)`` pairs; readers only ever see records that are durable.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import NamedTuple

from splitlab.store.errors import OverloadedError, StoreError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".log"


class Position(NamedTuple):
    """A place in the log: segment number and byte offset inside it."""

    segment: int
    offset: int


class AppendLog:
    """The log in ``directory``: :meth:`submit` records, read durable ones back in order."""

    def __init__(
        self,
        directory: Path | str,
        *,
        segment_bytes: int = 64 << 20,
        max_pending_bytes: int = 64 << 20,
        sync: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._max_pending = max_pending_bytes
        self._sync = sync
        self._cond = threading.Condition()
        self._queue: list[tuple[bytes, Future[Position]]] = []
        self._pending_bytes = 0
        self._closing = False
        self._listeners: list[threading.Event] = []
        self._recover()
        self._fd = -1
        self._segment = self._next_segment_number()
        self._offset = 0
        self._open_segment()
        self._durable = Position(self._segment, 0)
        self._thread = threading.Thread(target=self._run, name="splitlab-log-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ writing

    def submit(self, payload: bytes) -> Future[Position]:
        """Queue one record; the future gives its end position once it is durable.

        Raises :class:`OverloadedError` when the queue is full and :class:`StoreError` when the
        log is closed. The future fails with :class:`StoreError` if the record was not saved.
        """
        future: Future[Position] = Future()
        size = len(payload) + _HEADER.size
        with self._cond:
            if self._closing:
                raise StoreError("the event log is closed")
            if self._pending_bytes + size > self._max_pending and self._queue:
                raise OverloadedError(
                    f"the write queue is full ({self._pending_bytes} bytes waiting)",
                    retry_after=1.0,
                )
            self._queue.append((payload, future))
            self._pending_bytes += size
            self._cond.notify()
        return future

    def append(self, payload: bytes) -> Position:
        """Write one record and wait until it is durable."""
        return self.submit(payload).result()

    @property
    def durable_position(self) -> Position:
        """The end of the durable part of the log."""
        with self._cond:
            return self._durable

    def listen(self) -> threading.Event:
        """An event set each time more of the log becomes durable (for a loader)."""
        flag = threading.Event()
        with self._cond:
            self._listeners.append(flag)
        return flag

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                group, self._queue = self._queue, []
                self._pending_bytes = 0
            self._write_group(group)

    def _write_group(self, group: list[tuple[bytes, Future[Position]]]) -> None:
        start = self._offset
        frames: list[bytes] = []
        ends: list[Position] = []
        offset = start
        for payload, _ in group:
            frames.append(_HEADER.pack(len(payload), zlib.crc32(payload)))
            frames.append(payload)
            offset += _HEADER.size + len(payload)
            ends.append(Position(self._segment, offset))
        try:
            _write_all(self._fd, b"".join(frames))
            if self._sync:
                os.fdatasync(self._fd)
        except OSError as exc:
            logger.error("event log write failed (%s); %d records not saved", exc, len(group))
            self._recover_from_error(start)
            error = StoreError(f"could not save events: {os.strerror(exc.errno or errno.EIO)}")
            for _, future in group:
                future.set_exception(error)
            return
        self._offset = offset
        with self._cond:
            self._durable = ends[-1]
            listeners = list(self._listeners)
        for (_, future), end in zip(group, ends, strict=True):
            future.set_result(end)
        for flag in listeners:
            flag.set()
        if self._offset >= self._segment_bytes:
            self._rotate()

    def _recover_from_error(self, good_length: int) -> None:
        """Cut the failed group off and continue in a new segment."""
        try:
            os.ftruncate(self._fd, good_length)
        except OSError as exc:
            logger.error("could not cut the event log back to %d bytes: %s", good_length, exc)
        self._offset = good_length
        try:
            self._rotate()
        except OSError as exc:
            logger.error("could not start a new log segment: %s", exc)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        self._segment += 1
        self._offset = 0
        self._open_segment()
        with self._cond:
            self._durable = Position(self._segment, 0)

    def _open_segment(self) -> None:
        path = self._path(self._segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self._sync:
            fsync_directory(self.directory)

    def close(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # ------------------------------------------------------------------ reading

    def segments(self) -> list[int]:
        """Numbers of the segment files present, in order."""
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def read(
        self, start: Position, max_bytes: int = 32 << 20, end: Position | None = None
    ) -> Iterator[tuple[Position, bytes]]:
        """Durable records after `start`, each with the position just past it.

        Stops at `end` (default: the durable end) or after about `max_bytes` of payload.
        """
        end = self.durable_position if end is None else end
        total = 0
        for segment in self.segments():
            if segment < start.segment or segment > end.segment:
                continue
            offset = start.offset if segment == start.segment else 0
            limit = end.offset if segment == end.segment else None
            for position, payload in _read_segment(self._path(segment), segment, offset, limit):
                yield position, payload
                total += len(payload)
                if total >= max_bytes:
                    return

    def read_batch(
        self, start: Position, max_bytes: int, end: Position
    ) -> tuple[list[bytes], Position]:
        """The payloads :meth:`read` gives, and the position past the last (`start` if none)."""
        records = list(self.read(start, max_bytes, end))
        return [payload for _, payload in records], records[-1][0] if records else start

    def read_next(self, start: Position, max_bytes: int) -> tuple[list[bytes], Position]:
        """The durable payloads after `start` (about `max_bytes`) and the position past the
        last; with none, the durable end (a reader caught up may mark the log read up to it,
        past segments that rotation left empty)."""
        durable = self.durable_position
        payloads, end = self.read_batch(start, max_bytes, durable)
        return payloads, end if payloads else durable

    def release(self, upto: Position) -> None:
        """Delete segments entirely before `upto` (their records are safely elsewhere).

        Never past a hold (:func:`holds`): another reader still needs those records.
        """
        upto = min([upto, *holds(self.directory)])
        for segment in self.segments():
            if segment >= upto.segment or segment >= self._segment:
                break
            self._path(segment).unlink(missing_ok=True)

    # ------------------------------------------------------------------ recovery

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def _next_segment_number(self) -> int:
        existing = self.segments()
        return existing[-1] + 1 if existing else 1

    def _recover(self) -> None:
        """Cut a torn record off the end of the last segment (left by a crash)."""
        existing = self.segments()
        if not existing:
            return
        path = self._path(existing[-1])
        good = 0
        for position, _ in _read_segment(path, existing[-1], 0, None):
            good = position.offset
        size = path.stat().st_size
        if size != good:
            logger.warning("event log %s: cutting a torn tail of %d bytes", path, size - good)
            with path.open("r+b") as handle:
                handle.truncate(good)
                handle.flush()
                os.fsync(handle.fileno())

    def bytes_between(self, start: Position, end: Position) -> int:
        """The bytes of the log (records with their frames) from `start` to `end` (how far a
        reader at `start` is behind), from the segments' sizes without reading them."""
        total = 0
        for segment in self.segments():
            if segment < start.segment or segment > end.segment:
                continue
            try:
                size = self._path(segment).stat().st_size
            except FileNotFoundError:
                continue  # released meanwhile
            upto = end.offset if segment == end.segment else size
            total += max(0, upto - (start.offset if segment == start.segment else 0))
        return total


#: A file ``NAME.hold`` in the log directory holding ``{"segment": S, "offset": O}`` keeps
#: the segments from S on: a second reader of the log (the Kafka forwarder) records its
#: position there, and no loader deletes what it has not read yet, even across restarts.
HOLD_SUFFIX = ".hold"


def holds(directory: Path) -> list[Position]:
    """The positions held in `directory` (an unreadable hold file holds everything)."""
    found: list[Position] = []
    for path in directory.glob(f"*{HOLD_SUFFIX}"):
        try:
            state = json.loads(path.read_text())
            found.append(Position(int(state["segment"]), int(state["offset"])))
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("event log hold %s is unreadable; keeping every segment", path)
            found.append(Position(0, 0))
    return found


def fsync_directory(directory: Path) -> None:
    """Make the entries of `directory` (a new or renamed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_segment(
    path: Path, segment: int, offset: int, limit: int | None
) -> Iterator[tuple[Position, bytes]]:
    """Frames of one segment from `offset` up to `limit` (None: the end of the file)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while limit is None or offset < limit:
            header = handle.read(_HEADER.size)
            if not header:
                return
            payload = b""
            if len(header) == _HEADER.size:
                length, crc = _HEADER.unpack(header)
                payload = handle.read(length)
            if len(header) < _HEADER.size or len(payload) < length or zlib.crc32(payload) != crc:
                # Records are acknowledged in order, only after they and everything before
                # them are synced: nothing acknowledged lies past a torn or corrupt frame.
                logger.warning("event log %s: record at offset %d is torn; stopping", path, offset)
                return
            offset += _HEADER.size + length
            yield Position(segment, offset), payload
