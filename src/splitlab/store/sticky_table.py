"""The ``sticky_assignments`` table, and the store that writes it one transaction per put.

One row per (experiment, unit): the variant the unit was first given (primary key experiment
and unit, so a kept variant is never replaced). The server's store
(:class:`splitlab.store.sticky.DuckDBStickyStore`) writes this table in batches from its log;
:class:`DirectStickyStore` here writes it directly, one DuckDB transaction per new unit (about
12 ms with the file on disk, docs/benchmarks.md "Sticky store"). The direct store needs no log
directory (a tool holding a bare connection) and is the benchmark's baseline.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb

from splitlab.assignment.sticky import StickyStoreError

__all__ = ["SCHEMA", "DirectStickyStore", "read_variant"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sticky_assignments (
    experiment_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    PRIMARY KEY (experiment_id, unit_id)
);
CREATE TABLE IF NOT EXISTS splitlab_log_position (
    log_id VARCHAR PRIMARY KEY,
    segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL
);
"""

_SELECT = "SELECT variant FROM sticky_assignments WHERE experiment_id = $e AND unit_id = $u"


def read_variant(con: Any, experiment_id: str, unit_id: str) -> str | None:
    """The kept variant of one unit in the table (the caller holds the connection's lock)."""
    row = con.execute(_SELECT, {"e": experiment_id, "u": unit_id}).fetchone()
    return None if row is None else str(row[0])


def count_kept(con: Any, experiment_id: str) -> int:
    """How many units of `experiment_id` have a row in the table."""
    row = con.execute(
        "SELECT count(*) FROM sticky_assignments WHERE experiment_id = $e", {"e": experiment_id}
    ).fetchone()
    return int(row[0]) if row else 0


class DirectStickyStore:
    """Sticky variants written straight into the table, one transaction per new unit.

    :meth:`put` is insert-if-absent in one statement (``INSERT ... ON CONFLICT DO NOTHING``)
    followed by a read under the lock, so two requests racing for one unit both get the
    variant that was kept. Kept variants are remembered (up to ``cache_size``; then the cache
    starts over). Any DuckDB failure becomes :class:`StickyStoreError`.
    """

    def __init__(
        self, connection: Any, lock: threading.RLock | None = None, cache_size: int = 200_000
    ) -> None:
        self._con = connection
        self._lock = lock or threading.RLock()
        self._cache: dict[tuple[str, str], str] = {}
        self._cache_size = cache_size
        with self._lock:
            self._con.execute(SCHEMA)

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
                kept = read_variant(self._con, experiment_id, unit_id)
        except duckdb.Error as exc:
            raise StickyStoreError(f"reading the sticky variant failed: {exc}") from exc
        return None if kept is None else self._remember((experiment_id, unit_id), kept)

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        params = {"e": experiment_id, "u": unit_id, "v": variant}
        try:
            with self._lock:
                self._con.execute(
                    "INSERT INTO sticky_assignments VALUES ($e, $u, $v) ON CONFLICT DO NOTHING",
                    params,
                )
                kept = read_variant(self._con, experiment_id, unit_id)
        except duckdb.Error as exc:
            raise StickyStoreError(f"keeping the sticky variant failed: {exc}") from exc
        if kept is None:
            raise StickyStoreError("the sticky variant was not kept")
        return self._remember((experiment_id, unit_id), kept)

    def count(self, experiment_id: str) -> int:
        """How many units of `experiment_id` have a kept variant."""
        with self._lock:
            return count_kept(self._con, experiment_id)
