"""The dashboard's exposure counts, read from whichever event store a server writes to.

The dashboard draws units exposed per day and measures progress from each unit's (or
cluster's) first exposure. These reads are the same three questions for DuckDB and for
ClickHouse (:mod:`splitlab.store.clickhouse.progress_sql`), asked through
:func:`exposure_reads`:

* :meth:`ExposureReads.exposures_by_day`: per day and variant, the units whose first
  exposure fell on that day (UTC), counted in that exposure's variant;
* :meth:`ExposureReads.first_exposures`: per variant, the units (or clusters: exposures with a
  ``clusterId``, clusters seen in one variant only) so far, the start of the rate window (the
  latest first exposure minus the window, or the earliest first exposure if later), the
  latest first exposure, and how many first exposures fell after the window's start;
* :meth:`ExposureReads.latest_exposure`: the newest exposure's time (epoch ms), or None.

Each first waits until everything acknowledged before the call is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

from splitlab.store.duckdb_store import DuckDBStore

if TYPE_CHECKING:
    from splitlab.store.clickhouse.store import ClickHouseStore

#: A unit's first exposure per day and variant (the ``exposures`` table keeps every exposure;
#: a unit counts once, on the day of its first one, in that exposure's variant).
EXPOSURES_BY_DAY = """
SELECT day, variant, count(*) AS units FROM (
    SELECT arg_min(variant, ts) AS variant, min(ts) // 86400000 AS day
    FROM exposures WHERE experiment_id = ? GROUP BY unit_key)
GROUP BY day, variant ORDER BY day, variant
"""

#: Per variant: units or clusters (first exposure only), the window's start (ms) and those
#: first exposed after it; one pass over the experiment's exposures. ``{key}`` is the column
#: counted; ``{only}`` and ``{having}`` narrow it (clusters: a cluster id, one variant).
FIRST_EXPOSURES = """
WITH firsts AS (
    SELECT arg_min(variant, ts) AS variant, min(ts) AS first
    FROM exposures WHERE experiment_id = $exp {only} GROUP BY {key} {having}),
window_start AS (
    SELECT greatest(min(first), max(first) - $window) AS start, max(first) AS latest
    FROM firsts)
SELECT variant, count(*), any_value(start), any_value(latest),
       count(*) FILTER (WHERE first > start)
FROM firsts, window_start GROUP BY variant
"""


class FirstExposures(NamedTuple):
    """One variant's first exposures (see the module's notes)."""

    variant: str
    units: int
    window_start: int
    latest: int
    recent: int


class ExposureReads(Protocol):
    """The three reads of the dashboard (see the module's notes)."""

    def exposures_by_day(self, experiment_id: str) -> list[tuple[int, str, int]]: ...

    def first_exposures(
        self, experiment_id: str, *, clusters: bool, window_ms: int
    ) -> list[FirstExposures]: ...

    def latest_exposure(self, experiment_id: str) -> int | None: ...


class DuckDBExposureReads:
    """The reads on the embedded store's file."""

    def __init__(self, store: DuckDBStore) -> None:
        self._store = store

    def exposures_by_day(self, experiment_id: str) -> list[tuple[int, str, int]]:
        self._store.flush()
        with self._store.lock:
            rows = self._store.connection.execute(EXPOSURES_BY_DAY, [experiment_id]).fetchall()
        return [(int(day), str(variant), int(units)) for day, variant, units in rows]

    def first_exposures(
        self, experiment_id: str, *, clusters: bool, window_ms: int
    ) -> list[FirstExposures]:
        sql = FIRST_EXPOSURES.format(
            key="cluster_id" if clusters else "unit_key",
            only="AND cluster_id IS NOT NULL" if clusters else "",
            having="HAVING count(DISTINCT variant) = 1" if clusters else "",
        )
        self._store.flush()
        with self._store.lock:
            rows = self._store.connection.execute(
                sql, {"exp": experiment_id, "window": window_ms}
            ).fetchall()
        return [FirstExposures(str(r[0]), *(int(v) for v in r[1:])) for r in rows]

    def latest_exposure(self, experiment_id: str) -> int | None:
        self._store.flush()
        with self._store.lock:
            row = self._store.connection.execute(
                "SELECT max(ts) FROM exposures WHERE experiment_id = $exp", {"exp": experiment_id}
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])


def exposure_reads(store: DuckDBStore | ClickHouseStore) -> ExposureReads:
    """The dashboard's reads on `store`."""
    if isinstance(store, DuckDBStore):
        return DuckDBExposureReads(store)
    from splitlab.store.clickhouse.progress_sql import ClickHouseExposureReads

    return ClickHouseExposureReads(store)
