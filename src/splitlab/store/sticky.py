"""The server's sticky store: a durable log in front of the ``sticky_assignments`` table.

Writing one DuckDB transaction per new unit costs about 12 ms on disk, and concurrent new
units wait behind each other. So a new unit's variant is made durable the way events are
(:mod:`splitlab.store.log`): :meth:`DuckDBStickyStore.put` appends an ``(experiment, unit,
variant)`` record to its own append-only log beside the DuckDB file (``<db>.sticky.log/``)
and answers once the record is fsync'd; concurrent puts share one fsync (group commit). A
loader thread then moves the records into the table in batches (insert-if-absent) and, in
the same transaction, records how far it got (``splitlab_log_position``, id ``sticky``).

Reading: a record stays in memory until it is in the table, so :meth:`~DuckDBStickyStore.get`
looks in memory (those records, then a bounded LRU cache of kept variants), then in DuckDB.

Insert-if-absent holds across the log and the table: a put first looks in memory and in the
table and appends only for a unit found in neither, under the store's lock, so a unit has at
most one record in flight; a racing put for the same unit waits for that record and gets its
variant (the first durable one wins, and every caller gets it).

Crash and restart: on open the log is replayed from the recorded position into the table, so
every acknowledged put is kept (a torn last record, left by a crash in the middle of a write,
was never acknowledged and is cut off by :class:`~splitlab.store.log.AppendLog`). Failures: a
write or fsync that fails (disk full, I/O error), a closed store, a full write queue or a
loader too far behind raise :class:`~splitlab.assignment.sticky.StickyStoreError`; the
assignment service then answers ``sticky_unavailable``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from splitlab.assignment.sticky import StickyStoreError
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.sticky_table import SCHEMA, DirectStickyStore, count_kept, read_variant
from splitlab.store.writepath import LoaderThread, LoadPolicy

__all__ = ["DirectStickyStore", "DuckDBStickyStore"]

logger = logging.getLogger(__name__)

LOG_ID = "sticky"
#: How many misses of get are remembered for the put that follows.
_MISSES = 10_000

_INSERT = """
INSERT INTO sticky_assignments SELECT unnest($e), unnest($u), unnest($v)
ON CONFLICT DO NOTHING RETURNING experiment_id, unit_id
"""
_POSITION = "INSERT OR REPLACE INTO splitlab_log_position VALUES ($id, $segment, $offset)"

Key = tuple[str, str]
_Record = tuple[str, str, str]


class _Entry:
    """A variant appended to the log and not yet in the table; `written` resolves once durable."""

    __slots__ = ("variant", "written")

    def __init__(self, variant: str, written: Future[Position]) -> None:
        self.variant = variant
        self.written = written


class DuckDBStickyStore:
    """Sticky variants made durable in a log and loaded into DuckDB (see the module docstring).

    `connection` and `lock` are shared with the event store (:meth:`for_store`); the loader
    uses its own cursor. `cache_size` bounds the LRU cache of kept variants, `max_unloaded`
    the records held in memory while the loader is behind (beyond it a put fails).
    """

    def __init__(
        self,
        connection: Any,
        lock: threading.RLock | None = None,
        *,
        log_dir: Path | str,
        cache_size: int = 200_000,
        max_unloaded: int = 500_000,
        batch_size: int = 50_000,
        load_interval_s: float = 0.2,
        segment_bytes: int = 16 << 20,
        sync: bool = True,
    ) -> None:
        self._con = connection
        self._lock = lock or threading.RLock()
        self._mu = threading.Lock()
        self._cache: OrderedDict[Key, str] = OrderedDict()
        self._cache_size = cache_size
        #: Records appended and not yet in the table, in log order (dicts keep insertion order
        #: and appends happen under `_mu`, so this is the order of their positions).
        self._unloaded: dict[Key, _Entry] = {}
        self._max_unloaded = max_unloaded
        self._batch_size = batch_size
        #: Incremented under `_mu` each time records leave memory for the table.
        self._generation = 0
        #: Units a get found nowhere, with the generation when it searched memory.
        self._misses: OrderedDict[Key, int] = OrderedDict()
        self._closed = False
        #: One read cursor per thread that reads the table (closed with the store).
        self._readers = threading.local()
        self._reader_cursors: list[tuple[Any, threading.Lock]] = []
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(tuple[str, str, str])
        try:
            with self._lock:
                self._con.execute(SCHEMA)
                self._cursor: Any = self._con.cursor()
            self._log = AppendLog(
                log_dir, segment_bytes=segment_bytes, max_pending_bytes=8 << 20, sync=sync
            )
        except (duckdb.Error, OSError) as exc:
            raise StickyStoreError(f"opening the sticky store failed: {exc}") from exc
        try:
            #: How far the log is in the table.
            self.position = self._recorded_position()
            self._replay()
        except (duckdb.Error, OSError, StoreError) as exc:
            self._log.close()
            raise StickyStoreError(f"replaying the sticky log failed: {exc}") from exc
        policy = LoadPolicy(
            interval_s=load_interval_s,
            retryable=(duckdb.Error, OSError, StoreError),
            max_backoff_s=5.0,
            target="the sticky table",
            thread_name="splitlab-sticky-loader",
        )
        self._loads = LoaderThread(self, self._log, policy)
        self._loads.start()

    @classmethod
    def for_store(cls, store: Any, **kwargs: Any) -> DuckDBStickyStore:
        """The sticky store of a :class:`~splitlab.store.DuckDBStore`: the table in its file,
        the log in ``<file>.sticky.log/``; closed when `store` is closed.

        Raises :class:`StoreError` (which the server and the CLI report) when the log
        cannot be opened or replayed."""
        log_dir = Path(f"{store.path}.sticky.log")
        try:
            sticky = cls(store.connection, store.lock, log_dir=log_dir, **kwargs)
        except StickyStoreError as exc:
            raise StoreError(f"cannot open the sticky log {log_dir}: {exc}") from exc
        store.on_close(sticky.close)
        return sticky

    # ------------------------------------------------------------------ the protocol

    def get(self, experiment_id: str, unit_id: str) -> str | None:
        key = (experiment_id, unit_id)
        with self._mu:
            found = self._find(key)
            generation = self._generation
        if found is not None:
            return self._settle(key, found)
        kept = self._read(key)
        with self._mu:
            if kept is not None:
                return self._remember(key, kept)
            # The put that usually follows a miss can skip the table while nothing was loaded.
            self._misses[key] = generation
            if len(self._misses) > _MISSES:
                self._misses.popitem(last=False)
        return None

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        key = (experiment_id, unit_id)
        while True:
            with self._mu:
                found = self._find(key)
                generation = self._generation
                missed = self._misses.pop(key, None)
                if found is None and missed == generation:
                    # Not in memory, and not in the table when memory was last searched with
                    # no load since: only a load puts rows there, and none happened.
                    found = self._append(key, variant)
            if found is None:
                kept = self._read(key)
                with self._mu:
                    if kept is not None:
                        return self._remember(key, kept)
                    found = self._find(key)
                    if found is None and self._generation != generation:
                        continue  # records left memory meanwhile: this one may be among them
                    if found is None:
                        found = self._append(key, variant)
            return self._settle(key, found)

    def count(self, experiment_id: str) -> int:
        """How many units of `experiment_id` have a kept variant (loads what is durable first)."""
        self.flush()
        with self._lock:
            return count_kept(self._con, experiment_id)

    # ------------------------------------------------------------------ memory and table

    def _find(self, key: Key) -> str | _Entry | None:
        """The key's record in memory or its cached variant (the caller holds `_mu`)."""
        entry = self._unloaded.get(key)
        if entry is not None:
            return entry
        kept = self._cache.get(key)
        if kept is not None:
            self._cache.move_to_end(key)
        return kept

    def _remember(self, key: Key, variant: str) -> str:
        """Cache a kept variant, dropping the least recently used beyond the bound."""
        self._cache[key] = variant
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return variant

    def _read(self, key: Key) -> str | None:
        """The table's variant, read on this thread's own cursor: concurrent requests read in
        parallel and do not wait behind the event store's queries on the shared connection."""
        try:
            reader: tuple[Any, threading.Lock] | None = getattr(self._readers, "reader", None)
            if reader is None:
                with self._lock:
                    if self._closed:
                        raise StickyStoreError("the sticky store is closed")
                    reader = self._readers.reader = (self._con.cursor(), threading.Lock())
                    self._reader_cursors.append(reader)
            cursor, in_use = reader  # the lock only keeps close() from closing it mid-read
            with in_use:
                return read_variant(cursor, *key)
        except duckdb.Error as exc:
            raise StickyStoreError(f"reading the sticky variant failed: {exc}") from exc

    def _append(self, key: Key, variant: str) -> _Entry:
        """Queue the record for the log (the caller holds `_mu`)."""
        if self._closed:
            raise StickyStoreError("the sticky store is closed")
        if len(self._unloaded) >= self._max_unloaded:
            raise StickyStoreError(
                f"{len(self._unloaded)} sticky variants are waiting to be loaded into DuckDB "
                f"(the limit is {self._max_unloaded}); is the database failing?"
            )
        try:
            written = self._log.submit(self._encoder.encode((key[0], key[1], variant)))
        except StoreError as exc:
            raise StickyStoreError(f"keeping the sticky variant failed: {exc}") from exc
        entry = _Entry(variant, written)
        self._unloaded[key] = entry
        return entry

    def _settle(self, key: Key, found: str | _Entry) -> str:
        """The variant of `found`, once its record is durable (StickyStoreError if it failed)."""
        if isinstance(found, str):
            return found
        try:
            found.written.result()
        except StoreError as exc:
            with self._mu:
                if self._unloaded.get(key) is found:
                    del self._unloaded[key]
            raise StickyStoreError(f"keeping the sticky variant failed: {exc}") from exc
        return found.variant

    # ------------------------------------------------------------------ loading

    def load_once(self) -> int:
        """Move one batch of durable records into the table; how many (0: none waiting)."""
        batch: list[tuple[Key, _Entry]] = []
        durable = self._log.durable_position  # read first: later records lie past it
        with self._mu:
            idle = not self._unloaded
            for key, entry in self._unloaded.items():
                if not entry.written.done():
                    break  # records after it are later in the log: keep the order
                if entry.written.exception() is None:
                    batch.append((key, entry))
                    if len(batch) >= self._batch_size:
                        break
        if not batch:
            if idle and self.position < durable:
                # Only failed writes (cut off) lie between: move past them, or a flush
                # would wait for records that will never be loaded.
                self._insert([], durable)
                self._log.release(durable)
            return 0
        end = batch[-1][1].written.result()
        inserted = self._insert(((k[0], k[1], e.variant) for k, e in batch), end)
        with self._mu:
            for key, entry in batch:
                if self._unloaded.get(key) is entry:
                    del self._unloaded[key]
                if key in inserted:  # else the table already had one: read it when asked
                    self._remember(key, entry.variant)
            self._generation += 1
        self._log.release(end)
        return len(batch)

    def _insert(self, records: Iterable[_Record], end: Position) -> set[Key]:
        """Insert-if-absent `records` and record `end`, in one transaction; the keys inserted."""
        e, u, v = [], [], []
        for experiment_id, unit_id, variant in records:
            e.append(experiment_id)
            u.append(unit_id)
            v.append(variant)
        cur = self._cursor
        cur.execute("BEGIN TRANSACTION")
        try:
            rows = cur.execute(_INSERT, {"e": e, "u": u, "v": v}).fetchall() if e else []
            cur.execute(_POSITION, {"id": LOG_ID, "segment": end.segment, "offset": end.offset})
            cur.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        self.position = end
        return {(str(r[0]), str(r[1])) for r in rows}

    def _recorded_position(self) -> Position:
        row = self._cursor.execute(
            'SELECT segment, "offset" FROM splitlab_log_position WHERE log_id = $id',
            {"id": LOG_ID},
        ).fetchone()
        return Position(0, 0) if row is None else Position(int(row[0]), int(row[1]))

    def _replay(self) -> None:
        """Load the records the table lacks (after the recorded position) before serving.

        Each unit has one record unless a write failed and could not be cut back; then the
        later record is the acknowledged one, so the last record of a unit wins here.
        """
        latest: dict[Key, str] = {}
        for _, payload in self._log.read(self.position, max_bytes=1 << 62):
            try:
                experiment_id, unit_id, variant = self._decoder.decode(payload)
            except msgspec.DecodeError as exc:
                logger.error("sticky log: skipping an unreadable record: %s", exc)
                continue
            latest[(experiment_id, unit_id)] = variant
        end = self._log.durable_position
        records = [(k[0], k[1], v) for k, v in latest.items()]
        if records:
            logger.info("sticky log: replaying %d records into DuckDB", len(records))
        step = self._batch_size
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            # Earlier chunks keep the old position (a crash replays them again, harmlessly).
            self._insert(chunk, end if start + step >= len(records) else self.position)
        if self.position < end:
            self._insert([], end)
        self._log.release(end)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every durable record is in the table (StickyStoreError on timeout)."""
        try:
            self._loads.wait_loaded(self._log.durable_position, timeout)
        except StoreError as exc:
            raise StickyStoreError(str(exc)) from exc

    def close(self) -> None:
        """Write what is queued, load it into the table and stop (once)."""
        with self._mu:
            if self._closed:
                return
            self._closed = True
        self._log.close()
        self._loads.stop()
        try:
            self._loads.catch_up()
        except (duckdb.Error, OSError, StoreError) as exc:
            logger.error("sticky variants left in the log, loaded on the next start: %s", exc)
        self._cursor.close()
        with self._lock:
            for cursor, in_use in self._reader_cursors:
                with in_use:
                    cursor.close()

    def __enter__(self) -> DuckDBStickyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
