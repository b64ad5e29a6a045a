"""The dashboard's exposure counts in ClickHouse (:mod:`splitlab.store.exposure_progress`).

The same numbers as the DuckDB reads. Exposures need no deduplication here (a repeated row has
the same first exposure time and variant: :mod:`.schema`). ClickHouse 18.16 returns 0, not
NULL, for ``min`` and ``max`` over no row, so every read counts its rows first; and an alias
may not reuse a column's name within a query, hence ``first_variant``.
"""

from __future__ import annotations

from splitlab.store.clickhouse.store import ClickHouseStore
from splitlab.store.exposure_progress import FirstExposures

_BY_DAY = """
SELECT day, first_variant, count() FROM (
    SELECT argMin(variant, ts) AS first_variant, intDiv(min(ts), 86400000) AS day
    FROM {db}.exposures WHERE experiment_id = $exp GROUP BY unit_id)
GROUP BY day, first_variant ORDER BY day, first_variant
"""

#: Each unit's (or cluster's) first exposure: ``{key}`` is the column counted, ``{only}`` and
#: ``{having}`` narrow it (clusters: a cluster id, one variant).
_FIRSTS = """
SELECT argMin(variant, ts) AS first_variant, min(ts) AS first
FROM {db}.exposures WHERE experiment_id = $exp {only} GROUP BY {key} {having}
"""


class ClickHouseExposureReads:
    """The reads on a :class:`ClickHouseStore`'s server."""

    def __init__(self, store: ClickHouseStore) -> None:
        self._store = store

    def exposures_by_day(self, experiment_id: str) -> list[tuple[int, str, int]]:
        sql = _BY_DAY.format(db=self._store.database)
        _, rows = self._store.read(sql, {"exp": experiment_id})
        return [(int(day), str(variant), int(units)) for day, variant, units in rows]

    def first_exposures(
        self, experiment_id: str, *, clusters: bool, window_ms: int
    ) -> list[FirstExposures]:
        firsts = _FIRSTS.format(
            db=self._store.database,
            key="assumeNotNull(cluster_id)" if clusters else "unit_id",
            only="AND cluster_id IS NOT NULL" if clusters else "",
            having="HAVING uniqExact(variant) = 1" if clusters else "",
        )
        params: dict[str, object] = {"exp": experiment_id}
        _, bounds = self._store.read(
            f"SELECT count(), min(first), max(first) FROM ({firsts})", params
        )
        count, earliest, latest = (int(v) for v in bounds[0])
        if count == 0:
            return []
        start = max(earliest, latest - window_ms)
        _, rows = self._store.read(
            f"SELECT first_variant, count(), countIf(first > $start) FROM ({firsts}) "
            "GROUP BY first_variant ORDER BY first_variant",
            {**params, "start": start},
        )
        return [
            FirstExposures(str(variant), int(units), start, latest, int(recent))
            for variant, units, recent in rows
        ]

    def latest_exposure(self, experiment_id: str) -> int | None:
        _, rows = self._store.read(
            f"SELECT count(), max(ts) FROM {self._store.database}.exposures "
            "WHERE experiment_id = $exp",
            {"exp": experiment_id},
        )
        count, latest = rows[0]
        return int(latest) if int(count) > 0 else None
