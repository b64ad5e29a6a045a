"""A bounded memory of recently written event ids, to answer "duplicate" without a query.

Each id maps to the future of the log write that carries it. A repeated id is not written
again, but the batch that repeats it is acknowledged only when that earlier write has become
durable (and fails if it failed), so a duplicate is never acknowledged on the strength of a
write that did not happen. Memory is bounded by two generations of at most ``capacity / 2``
ids each: when the young one fills up, the old one is dropped whole. An id older than that
is written again and dropped by the loader's deduplication instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future

from splitlab.store.log import Position
from splitlab.tracking.events import Event

Write = Future[Position]


class RecentIds:
    """Between ``capacity / 2`` and ``capacity`` event ids, each with the write carrying it."""

    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2)
        self._young: dict[str, Write | None] = {}
        self._old: dict[str, Write | None] = {}
        self._lock = threading.Lock()

    def claim(self, events: Sequence[Event]) -> tuple[list[Event], list[Write], int]:
        """Split `events` into new ones (now claimed) and repeats.

        Returns the new events, the writes the repeats depend on, and the number of repeats.
        The caller must :meth:`attach` (or :meth:`forget`) the new ones before anyone else
        claims: :class:`~splitlab.store.writepath.LogWriter` holds one lock around both.
        """
        keys = [e.event_id for e in events]
        with self._lock:
            young, old = self._young, self._old
            if (
                young.keys().isdisjoint(keys)
                and old.keys().isdisjoint(keys)
                and len(set(keys)) == len(keys)
            ):
                young.update(dict.fromkeys(keys))
                return list(events), [], 0
            fresh: list[Event] = []
            pending: list[Write | None] = []
            for event, key in zip(events, keys, strict=True):
                if key in young:
                    pending.append(young[key])
                elif key in old:
                    pending.append(old[key])
                else:
                    young[key] = None
                    fresh.append(event)
        waits = {id(w): w for w in pending if w is not None}
        return fresh, list(waits.values()), len(pending)

    def attach(self, events: Sequence[Event], write: Write) -> None:
        """Record that `events` ride on `write`; forget them again if the write fails."""
        keys = [e.event_id for e in events]
        with self._lock:
            self._young.update(dict.fromkeys(keys, write))
            if len(self._young) > self._half:
                self._old, self._young = self._young, {}
        write.add_done_callback(lambda done: self._forget_failed(keys, done))

    def forget(self, events: Sequence[Event], write: Write | None) -> None:
        """Drop the claims of `events` (their write was refused or failed)."""
        self._drop([e.event_id for e in events], write)

    def _forget_failed(self, keys: list[str], write: Write) -> None:
        if write.exception() is not None:
            self._drop(keys, write)

    def _drop(self, keys: list[str], write: Write | None) -> None:
        """Forget each of `keys` still claimed by `write` (a later claim is kept)."""
        with self._lock:
            for key in keys:
                for generation in (self._young, self._old):
                    if key in generation and generation[key] is write:
                        del generation[key]
