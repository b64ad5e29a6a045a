"""The server's sticky store: each (experiment, unit)'s first variant in the DuckDB file.

One table, ``sticky_assignments`` (primary key experiment and unit). :meth:`put` is
insert-if-absent in one statement (``INSERT ... ON CONFLICT DO NOTHING``) followed by a read
under the store's lock, so two requests racing for one unit both get the variant that was
kept. A kept variant never changes, so the store remembers the ones it has read or written
(up to ``cache_size``; then it starts over): the server process is the file's only writer,
and a unit seen before costs a dictionary lookup instead of a query. Any DuckDB failure becomes :class:`~splitlab.assignment.sticky.StickyStoreError`, which
the assignment service answers with ``sticky_unavailable``.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb

from splitlab.assignment.sticky import StickyStoreError

__all__ = ["DuckDBStickyStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sticky_assignments (
    experiment_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    PRIMARY KEY (experiment_id, unit_id)
)
"""


class DuckDBStickyStore:
    """Sticky variants in a DuckDB connection shared under `lock` (the event store's)."""

    def __init__(
        self, connection: Any, lock: threading.RLock | None = None, cache_size: int = 1_000_000
    ) -> None:
        self._con = connection
        self._lock = lock or threading.RLock()
        self._cache: dict[tuple[str, str], str] = {}
        self._cache_size = cache_size
        with self._lock:
            self._con.execute(SCHEMA)

    @classmethod
    def for_store(cls, store: Any) -> DuckDBStickyStore:
        """The sticky store in the same file as a :class:`~splitlab.store.DuckDBStore`."""
        return cls(store.connection, store.lock)

    def _remember(self, key: tuple[str, str], variant: str) -> str:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = variant
        return variant

    def get(self, experiment_id: str, unit_id: str) -> str | None:
        hit = self._cache.get((experiment_id, unit_id))
        if hit is not None:
            return hit
        try:
            with self._lock:
                row = self._con.execute(
                    "SELECT variant FROM sticky_assignments "
                    "WHERE experiment_id = $e AND unit_id = $u",
                    {"e": experiment_id, "u": unit_id},
                ).fetchone()
        except duckdb.Error as exc:
            raise StickyStoreError(f"reading the sticky variant failed: {exc}") from exc
        return None if row is None else self._remember((experiment_id, unit_id), str(row[0]))

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        params = {"e": experiment_id, "u": unit_id, "v": variant}
        try:
            with self._lock:
                self._con.execute(
                    "INSERT INTO sticky_assignments VALUES ($e, $u, $v) ON CONFLICT DO NOTHING",
                    params,
                )
                row = self._con.execute(
                    "SELECT variant FROM sticky_assignments "
                    "WHERE experiment_id = $e AND unit_id = $u",
                    {"e": experiment_id, "u": unit_id},
                ).fetchone()
        except duckdb.Error as exc:
            raise StickyStoreError(f"keeping the sticky variant failed: {exc}") from exc
        if row is None:
            raise StickyStoreError("the sticky variant was not kept")
        return self._remember((experiment_id, unit_id), str(row[0]))

    def count(self, experiment_id: str) -> int:
        """How many units of `experiment_id` have a kept variant."""
        with self._lock:
            row = self._con.execute(
                "SELECT count(*) FROM sticky_assignments WHERE experiment_id = $e",
                {"e": experiment_id},
            ).fetchone()
        return int(row[0]) if row else 0
