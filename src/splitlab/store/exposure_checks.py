"""Checks of browser exposures, kept in DuckDB: what a page claimed, what the server served.

A browser page's SDK key is public, so the server recomputes every exposure a browser sends
(:mod:`splitlab.server.exposures`) and records one row per checked event here::

    browser_exposure_checks(event_id, experiment_id, claimed, served, reason, checked_at)

``served`` is the server's variant (NULL when it assigns none; ``reason`` then says why, such
as ``not_targeted``). The event id is the key, so a resent event is counted once, as the
collector counts it once. Rows are buffered in memory and written every
``flush_interval_s`` seconds, when read, and when the store closes (:meth:`close` runs as a
close hook of the store, before its connection closes), so counting adds no DuckDB
transaction to a request; a crash loses at most the last interval's counts, never an event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS browser_exposure_checks (
    event_id VARCHAR PRIMARY KEY,
    experiment_id VARCHAR NOT NULL,
    claimed VARCHAR NOT NULL,
    served VARCHAR,
    reason VARCHAR NOT NULL,
    checked_at BIGINT NOT NULL
)
"""

_INSERT = """
INSERT INTO browser_exposure_checks
SELECT unnest($e), unnest($x), unnest($c), unnest($s), unnest($r), unnest($t)
ON CONFLICT DO NOTHING RETURNING experiment_id, claimed, served, reason
"""

_COUNTS = """
SELECT claimed, served, reason, count(*) FROM browser_exposure_checks
WHERE experiment_id = ? GROUP BY ALL ORDER BY ALL
"""


@dataclass(frozen=True, slots=True)
class ExposureCheck:
    """One browser exposure checked: the page's claim against the server's assignment."""

    event_id: str
    experiment_id: str
    claimed: str
    served: str | None
    reason: str
    checked_at: int

    @property
    def mismatched(self) -> bool:
        return self.served is not None and self.served != self.claimed


#: ``(experiment_id, claimed, served, reason)`` of a row newly written.
Counted = tuple[str, str, str | None, str]


@dataclass(slots=True)
class ExposureCounts:
    """One experiment's browser exposure checks, summed."""

    experiment_id: str
    checked: int = 0
    mismatched: int = 0
    not_assigned: int = 0
    #: (claimed, served) -> events stored with the server's variant instead of the claim.
    mismatches: dict[tuple[str, str], int] = field(default_factory=dict)
    #: reason -> events refused because the server assigns no variant.
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experimentId": self.experiment_id,
            "checked": self.checked,
            "mismatched": self.mismatched,
            "notAssigned": self.not_assigned,
            "mismatches": [
                {"claimed": c, "served": s, "count": n} for (c, s), n in self.mismatches.items()
            ],
            "notAssignedReasons": [{"reason": r, "count": n} for r, n in self.reasons.items()],
        }


class ExposureCheckStore:
    """Buffered, idempotent writes of :class:`ExposureCheck` rows (see the module docstring).

    `on_counted` is called (on the writing thread) with the rows that were new, so counters
    kept elsewhere (Prometheus) count a resent event once too.
    """

    def __init__(
        self,
        connection: Any,
        lock: threading.Lock | threading.RLock,
        *,
        flush_interval_s: float = 2.0,
        on_counted: Callable[[list[Counted]], None] | None = None,
    ) -> None:
        self._db = connection
        self._lock = lock
        self._pending: dict[str, ExposureCheck] = {}
        self._pending_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.on_counted = on_counted
        with self._lock:
            self._db.execute(SCHEMA)
        self._stop = threading.Event()
        self._interval = flush_interval_s
        self._thread = threading.Thread(target=self._run, name="splitlab-checks", daemon=True)
        self._thread.start()

    @classmethod
    def for_store(cls, store: Any, **kwargs: Any) -> ExposureCheckStore:
        """Checks kept in a :class:`~splitlab.store.DuckDBStore`'s file, written at its close."""
        checks = cls(store.connection, store.lock, **kwargs)
        store.on_close(checks.close)
        return checks

    def record(self, checks: Sequence[ExposureCheck]) -> None:
        """Queue `checks` for the next write (the first check of an event id wins)."""
        with self._pending_lock:
            for check in checks:
                self._pending.setdefault(check.event_id, check)

    def flush(self) -> None:
        """Write what is queued (rows already present are skipped)."""
        with self._flush_lock:
            with self._pending_lock:
                batch = list(self._pending.values())
                self._pending = {}
            if not batch:
                return
            columns = {
                "e": [c.event_id for c in batch],
                "x": [c.experiment_id for c in batch],
                "c": [c.claimed for c in batch],
                "s": [c.served for c in batch],
                "r": [c.reason for c in batch],
                "t": [c.checked_at for c in batch],
            }
            try:
                with self._lock:
                    rows = self._db.execute(_INSERT, columns).fetchall()
            except duckdb.Error as exc:
                logger.error("browser exposure checks not written (%d lost): %s", len(batch), exc)
                return
        if self.on_counted is not None and rows:
            self.on_counted([(str(e), str(c), s, str(r)) for e, c, s, r in rows])

    def counts(self, experiment_id: str) -> ExposureCounts:
        """The experiment's checks so far (what is queued is written first)."""
        self.flush()
        with self._lock:
            rows = self._db.execute(_COUNTS, [experiment_id]).fetchall()
        out = ExposureCounts(experiment_id)
        for claimed, served, reason, count in rows:
            n = int(count)
            out.checked += n
            if served is None:
                out.not_assigned += n
                out.reasons[reason] = out.reasons.get(reason, 0) + n
            elif served != claimed:
                out.mismatched += n
                out.mismatches[(claimed, served)] = n
        return out

    def close(self) -> None:
        """Stop the writer thread and write what is queued."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # the writer must outlive one failure; the next pass retries
                logger.exception("writing browser exposure checks failed")
