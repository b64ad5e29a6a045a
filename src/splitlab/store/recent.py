"""A bounded memory of recently written event ids, to answer "duplicate" without a query.

Each id maps to the future of the log write that carries it. A repeated id is not written
again, but the batch that repeats it is acknowledged only when that earlier write has become
durable (and fails if it failed), so a duplicate is never acknowledged on the strength of a
write that did not happen. The oldest writes are forgotten first; an id older than the window
is written again and dropped by the loader's deduplication instead.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

from splitlab.store.log import Position
from splitlab.tracking.events import Event

Write = Future[Position]


class RecentIds:
    """Up to about `capacity` event ids, each with the write that carries it."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ids: dict[str, Write | None] = {}
        self._order: deque[list[str]] = deque()
        self._lock = threading.Lock()

    def claim(self, events: Sequence[Event]) -> tuple[list[Event], list[Write], int]:
        """Split `events` into new ones (now claimed) and repeats.

        The caller must :meth:`attach` (or :meth:`forget`) the new ones before anyone else
        claims: :class:`~splitlab.store.duckdb_store.DuckDBStore` holds one lock around both.

        Returns the new events, the writes the repeats depend on, and the number of repeats.
        """
        fresh: list[Event] = []
        waits: dict[int, Write] = {}
        duplicates = 0
        pending: list[Write | None] = []
        with self._lock:
            ids = self._ids
            for event in events:
                key = event.event_id
                if key in ids:
                    duplicates += 1
                    pending.append(ids[key])
                    continue
                ids[key] = None
                fresh.append(event)
        for write in pending:
            if write is not None:
                waits[id(write)] = write
        return fresh, list(waits.values()), duplicates

    def attach(self, events: Sequence[Event], write: Write) -> None:
        """Record that `events` ride on `write`; forget them again if the write fails."""
        keys = [e.event_id for e in events]
        with self._lock:
            for key in keys:
                self._ids[key] = write
            self._order.append(keys)
            size = len(self._ids)
            while size > self._capacity and len(self._order) > 1:
                for key in self._order.popleft():
                    if key in self._ids:
                        del self._ids[key]
                        size -= 1
        write.add_done_callback(lambda done: self._forget_failed(keys, done))

    def forget(self, events: Sequence[Event], write: Write | None) -> None:
        """Drop the claims of `events` (their write was refused or failed)."""
        with self._lock:
            for event in events:
                if self._ids.get(event.event_id, 0) is write:
                    del self._ids[event.event_id]

    def _forget_failed(self, keys: list[str], write: Write) -> None:
        if write.exception() is None:
            return
        with self._lock:
            for key in keys:
                if self._ids.get(key) is write:
                    del self._ids[key]
