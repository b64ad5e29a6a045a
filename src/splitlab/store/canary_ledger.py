"""The canary judgments ledger: one row per judgment of a canary, in the registry's DuckDB file.

``splitlab_canary_judgments`` holds, per experiment and in order (``seq``), when the judgment
was made, the ramp step it judged, its verdict and the action taken (``wait``, ``advance``,
``promote``, ``rollback``), and the whole judgment as canonical JSON (the metrics' estimates,
intervals and tolerances, the intervals judged, the reason). The table shares the store's
connection and lock with the registry, so a judgment and the status change it causes are
written in one transaction (:meth:`splitlab.store.registry.Registry.transaction`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splitlab.store.registry import canonical_json, format_time, parse_time

_SCHEMA = """CREATE TABLE IF NOT EXISTS splitlab_canary_judgments (
    experiment_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    judged_at VARCHAR NOT NULL,
    step INTEGER NOT NULL,
    verdict VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    document VARCHAR NOT NULL)"""


@dataclass(frozen=True)
class Judgment:
    """One recorded judgment; ``document`` is the exact JSON text that was stored."""

    experiment_id: str
    seq: int
    at: datetime
    step: int
    verdict: str
    action: str
    document: str

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.document)
        return data


class CanaryLedger:
    """Append and read canary judgments (``CanaryLedger.for_store(store)``)."""

    def __init__(self, connection: Any, lock: Any | None = None) -> None:
        self._conn = connection
        self._lock = lock if lock is not None else threading.RLock()
        with self._lock:
            self._conn.execute(_SCHEMA)

    @classmethod
    def for_store(cls, store: Any) -> CanaryLedger:
        """The ledger in ``store``'s DuckDB file (the registry's file), sharing its lock."""
        return cls(store.connection, store.lock)

    def append(
        self,
        experiment_id: str,
        *,
        at: datetime,
        step: int,
        verdict: str,
        action: str,
        document: dict[str, Any],
    ) -> Judgment:
        """Append one judgment (inside the caller's registry transaction, if one is open)."""
        text = canonical_json(document)
        with self._lock:
            row = self._conn.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM splitlab_canary_judgments "
                "WHERE experiment_id = ?",
                [experiment_id],
            ).fetchone()
            seq = int(row[0]) if row else 1
            self._conn.execute(
                "INSERT INTO splitlab_canary_judgments VALUES (?, ?, ?, ?, ?, ?, ?)",
                [experiment_id, seq, format_time(at), step, verdict, action, text],
            )
        return Judgment(experiment_id, seq, at, step, verdict, action, text)

    def judgments(self, experiment_id: str, *, last: bool = False) -> list[Judgment]:
        """Every judgment of one canary, oldest first (``last``: only the newest)."""
        order = "ORDER BY seq DESC LIMIT 1" if last else "ORDER BY seq"
        with self._lock:
            rows = self._conn.execute(
                "SELECT experiment_id, seq, judged_at, step, verdict, action, document "
                f"FROM splitlab_canary_judgments WHERE experiment_id = ? {order}",
                [experiment_id],
            ).fetchall()
        return [
            Judgment(str(r[0]), int(r[1]), parse_time(str(r[2])), int(r[3]), str(r[4]),
                     str(r[5]), str(r[6]))
            for r in rows
        ]  # fmt: skip
