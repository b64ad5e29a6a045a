"""The on-disk spool: where events wait when the collector stays unreachable.

The spool is a directory of *segments*. Each segment holds one chunk of events, one JSON event
per line, and is written exactly once: to a temporary name, fsync'd, renamed into place, and
the directory fsync'd. So a segment on disk is always complete, and a crash leaves at worst a
``.tmp`` file that is ignored. Segments are replayed oldest first (on the next start, or as
soon as the collector answers again) and deleted only after their batch was delivered; a
crash between delivery and deletion replays the segment, which the collector deduplicates by
``eventId``.

The spool is bounded by ``max_bytes``: a chunk that would pass the bound is not written (the
client counts and logs those events as dropped with reason ``spool_full``). One client at a
time owns a directory; it holds an exclusive ``flock`` on ``LOCK`` (released by the kernel if
the process dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

from splitlab.tracking.errors import SpoolError
from splitlab.tracking.events import Event

logger = logging.getLogger(__name__)

_SUFFIX = ".jsonl"


@dataclass(frozen=True, slots=True)
class Segment:
    """One spooled chunk of events, read back from disk."""

    path: Path
    events: tuple[Event, ...]
    #: Lines that could not be read back as events (damaged disk, foreign file).
    unreadable: int
    size: int


class SpoolFullError(SpoolError):
    """Writing a chunk would pass the spool's ``max_bytes`` bound."""

    code = "spool_full"


class Spool:
    """A bounded directory of write-once segment files (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(
                f"spool max_bytes must be a positive number of bytes (got {max_bytes})"
            )
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[bytes] | None = self._acquire(self.directory / "LOCK")
        self._mutex = threading.Lock()
        sizes = {path: path.stat().st_size for path in self._listing()}
        self._sizes: dict[Path, int] = sizes
        self._next = 1 + max((self._number(p) for p in sizes), default=0)
        if sizes:
            logger.info(
                "spool %s holds %d segment(s) (%d bytes) from an earlier run; replaying them",
                self.directory,
                len(sizes),
                sum(sizes.values()),
            )

    @staticmethod
    def _acquire(path: Path) -> IO[bytes]:
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SpoolError(
                f"spool directory {path.parent} is in use by another tracking client; "
                "give each client (process) its own spool_dir"
            ) from None
        return handle

    def _listing(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{_SUFFIX}"), key=self._number)

    @staticmethod
    def _number(path: Path) -> int:
        stem = path.name.removesuffix(_SUFFIX)
        return int(stem) if stem.isdigit() else 0

    @property
    def size_bytes(self) -> int:
        """Bytes held by the segments on disk."""
        with self._mutex:
            return sum(self._sizes.values())

    @property
    def segment_count(self) -> int:
        """How many segments wait to be replayed."""
        with self._mutex:
            return len(self._sizes)

    def write(self, events: Sequence[Event]) -> int:
        """Write ``events`` as one durable segment; return its size in bytes.

        Raises SpoolFullError when the segment would pass ``max_bytes`` and OSError when the
        disk refuses the write; nothing is left behind in either case.
        """
        data = b"".join(msgspec.json.encode(event) + b"\n" for event in events)
        with self._mutex:
            used = sum(self._sizes.values())
            if used + len(data) > self.max_bytes:
                raise SpoolFullError(
                    f"spool {self.directory} holds {used} bytes; {len(data)} more would pass "
                    f"its max_bytes={self.max_bytes}"
                )
            number = self._next
            self._next += 1
            final = self.directory / f"{number:012d}{_SUFFIX}"
            temporary = final.with_suffix(".tmp")
            try:
                with temporary.open("wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                temporary.rename(final)
                self._fsync_directory()
            except OSError:
                temporary.unlink(missing_ok=True)
                raise
            self._sizes[final] = len(data)
        return len(data)

    def oldest(self) -> Segment | None:
        """The oldest segment waiting for replay, read back from disk (None if none)."""
        with self._mutex:
            if not self._sizes:
                return None
            path = min(self._sizes, key=self._number)
            size = self._sizes[path]
        events: list[Event] = []
        unreadable = 0
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                events.append(msgspec.json.decode(line, type=Event))
            except (msgspec.DecodeError, msgspec.ValidationError):
                unreadable += 1
        return Segment(path, tuple(events), unreadable, size)

    def remove(self, segment: Segment) -> None:
        """Delete a segment whose events were delivered (or refused for good)."""
        with self._mutex:
            segment.path.unlink(missing_ok=True)
            self._sizes.pop(segment.path, None)
            self._fsync_directory()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release the directory lock (segments stay on disk for the next start, said in a
        warning)."""
        if self.segment_count:
            logger.warning(
                "undelivered events in the spool %s (%d bytes in %d segments); the next "
                "client that opens it sends them",
                self.directory,
                self.size_bytes,
                self.segment_count,
            )
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
