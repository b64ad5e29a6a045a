"""Reading a durable log that another process writes (a collector's), for a merging loader.

:class:`~splitlab.store.log.AppendLog` is the writer's own view: it knows which records are
durable because it synced them. A loader in another process only sees the files. It reads
whole frames (length and CRC checked) and stops at the first incomplete one, which the writer
is still appending or which a crash left torn; it tries again there at the next pass.

Segments are sealed in order: the writer starts segment ``n + 1`` only after its last write
to segment ``n`` (and, after a crash, only after cutting a torn tail off ``n``). So once a
later segment exists, the reader may finish ``n`` and move on; the newest segment is never
skipped past.

A record can be read between its ``write`` and its ``fdatasync``: the page cache holds it, so
it survives the writer process being killed. Only a crash of the operating system can lose
such a record after it was loaded; it was then never acknowledged, its client retries it, and
the loader's ``eventId`` deduplication drops the second copy.
"""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

from splitlab.store.log import Position

logger = logging.getLogger(__name__)

_SUFFIX = ".log"
_HEADER = struct.Struct("<II")
_HEADER_SIZE = _HEADER.size
#: Read this much past the byte budget, so that the record crossing it is whole.
_SLACK = 16 << 20


class LogReader:
    """Whole records of the log in `directory`, read without owning it."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def segments(self) -> list[int]:
        """Numbers of the segment files present, in order."""
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def read_next(self, start: Position, max_bytes: int) -> tuple[list[bytes], Position]:
        """Whole records after `start` (about `max_bytes` of payload at most), and the position
        just past the last one; past sealed segments without records, the next segment's start.
        """
        segments = [s for s in self.segments() if s >= start.segment]
        payloads: list[bytes] = []
        position = start
        total = 0
        for index, segment in enumerate(segments):
            offset = position.offset if segment == position.segment else 0
            sealed = index + 1 < len(segments)
            wanted = max(max_bytes - total, 0) + _SLACK
            data = _read_from(self._path(segment), offset, wanted)
            cut = len(data) == wanted  # more of the file lies past what was read
            at = 0  # inside data, which starts at `offset` in the file
            while at + _HEADER_SIZE <= len(data) and total < max_bytes:
                length, crc = _HEADER.unpack_from(data, at)
                end = at + _HEADER_SIZE + length
                if end > len(data):
                    break
                payload = data[at + _HEADER_SIZE : end]
                if zlib.crc32(payload) != crc:
                    break
                payloads.append(payload)
                total += length
                at = end
            position = Position(segment, offset + at)
            if total >= max_bytes or cut or not sealed:
                return payloads, position
            if at < len(data):
                # A sealed segment ends in a bad frame only if the writer failed to cut it;
                # nothing acknowledged lies past it (records are synced in order).
                logger.warning(
                    "log %s: skipping a bad tail at offset %d", self._path(segment), offset
                )
            position = Position(segments[index + 1], 0)
        return payloads, position

    def release(self, upto: Position) -> None:
        """Delete segments entirely before `upto` (loaded; the writer never goes back)."""
        for segment in self.segments():
            if segment >= upto.segment:
                break
            self._path(segment).unlink(missing_ok=True)


def _read_from(path: Path, offset: int, size: int) -> bytes:
    """At most `size` bytes of `path` from `offset`."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except FileNotFoundError:  # released by an earlier pass
        return b""
