"""The registry: experiment definitions, their change log and the looks ledger.

Three tables in the store's DuckDB file, sharing the store's one connection and its lock:

* ``splitlab_experiments``: one row per experiment, the definition JSON (camelCase, with the
  current status, shipped variant and toggle folded in) and its status for quick listing;
* ``splitlab_changes``: an append-only audit log of every status change and variant toggle
  (who, when, why, from what to what, and the look that caused it, if any);
* ``splitlab_looks``: the looks ledger, one row per look or read-only peek, holding the exact
  JSON that was produced so that any past look can be re-rendered byte for byte.

Every change record and every look that decides ship, rollback or halt also queues a webhook
notification (:mod:`splitlab.store.outbox`) in the same transaction.

The registry stores and reads; it does not judge. Which status changes are allowed is decided
in one place, :mod:`splitlab.evaluation.lifecycle`, which is the only caller of
:meth:`Registry.write_state`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Protocol

from splitlab.config import Experiment, load_experiment
from splitlab.errors import SplitlabError
from splitlab.store import outbox
from splitlab.store.registry_records import (
    Change,
    DuplicateExperimentError,
    LookRecord,
    RegistryError,
    UnknownExperimentError,
    canonical_json,
    change_from_row,
    format_time,
    look_from_row,
    parse_time,
)

__all__ = [
    "Change",
    "DuplicateExperimentError",
    "LookRecord",
    "Registry",
    "RegistryError",
    "UnknownExperimentError",
    "canonical_json",
    "format_time",
    "parse_time",
]

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS splitlab_experiments (
        experiment_id VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL,
        definition VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS splitlab_changes (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        changed_at VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        from_value VARCHAR,
        to_value VARCHAR,
        changed_by VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        look INTEGER,
        details VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS splitlab_looks (
        experiment_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        number INTEGER NOT NULL,
        peek BOOLEAN NOT NULL,
        taken_at VARCHAR NOT NULL,
        cutoff VARCHAR NOT NULL,
        triggered_by VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        variant VARCHAR,
        document VARCHAR NOT NULL)""",
)


class _Lock(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, *args: Any) -> Any: ...


class _Connection(Protocol):
    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


class Registry:
    """Experiments, their audit log and the looks ledger in one DuckDB database.

    Pass the store's connection and lock (``Registry(store.connection, store.lock)``, or
    :meth:`for_store`) so that the registry and the event store share one file and one
    writer. Every method takes the lock; :meth:`transaction` groups several calls into one
    atomic DuckDB transaction (a look and the rollback it causes, for example).
    """

    def __init__(
        self, connection: _Connection, lock: _Lock | None = None, *, create: bool = True
    ) -> None:
        self._conn = connection
        self._lock: _Lock = lock if lock is not None else threading.Lock()
        self._owner: int | None = None
        if create:  # another backend's tables come from its migrations instead
            with self.transaction():
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                outbox.create_tables(self._conn)

    @classmethod
    def for_store(cls, store: Any) -> Registry:
        """The registry living in ``store``'s DuckDB file (``store.connection``, ``.lock``)."""
        return cls(store.connection, store.lock)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner == me:
            yield
            return
        with self._lock:
            self._owner = me
            self._conn.execute("BEGIN TRANSACTION")
            try:
                self._begun()
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._owner = None

    def transaction(self) -> AbstractContextManager[None]:
        """One atomic transaction; nested calls on the same thread join the outer one."""
        return self._transaction()

    def _begun(self) -> None:
        """Called first in every outermost transaction (DuckDB: one writer, nothing to do)."""

    @property
    def connection(self) -> _Connection:
        """The connection the registry writes through: the webhook outbox, the canary
        ledger and the keys share it, so their rows commit in the registry's transactions."""
        return self._conn

    @property
    def lock(self) -> Any:
        """Held by anyone using :attr:`connection`."""
        return self._lock

    @property
    def backend(self) -> str:
        """Which database holds the registry (``duckdb`` or ``postgresql``)."""
        return "duckdb"

    def close(self) -> None:
        """Release what the registry holds (the DuckDB registry shares the store's file)."""

    # -- experiments ---------------------------------------------------------------------

    def create(self, experiment: Experiment, *, at: datetime) -> Experiment:
        """Register a new experiment; refuses an id that is already registered."""
        with self.transaction():
            if self._row(experiment.id) is not None:
                raise DuplicateExperimentError(
                    f"experimentId {experiment.id!r}: already registered "
                    "(expected a new id; change a running experiment through its status)"
                )
            stamp = format_time(at)
            self._conn.execute(
                "INSERT INTO splitlab_experiments VALUES (?, ?, ?, ?, ?)",
                [experiment.id, experiment.status.value, _definition(experiment), stamp, stamp],
            )
        logger.info("registered experiment %s (%s)", experiment.id, experiment.status.value)
        return experiment

    def get(self, experiment_id: str) -> Experiment:
        """The experiment as registered now (status, shipped variant and toggle included)."""
        with self.transaction():
            row = self._row(experiment_id)
        if row is None:
            raise _unknown(experiment_id)
        return load_experiment(json.loads(row[0]))

    def created_at(self, experiment_id: str) -> datetime:
        """When the experiment was registered."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT created_at FROM splitlab_experiments WHERE experiment_id = ?",
                [experiment_id],
            ).fetchone()
        if row is None:
            raise _unknown(experiment_id)
        return parse_time(str(row[0]))

    def experiments(self) -> list[Experiment]:
        """Every registered experiment, by id."""
        with self.transaction():
            rows = self._conn.execute(
                "SELECT experiment_id, definition FROM splitlab_experiments ORDER BY experiment_id"
            ).fetchall()
        found = []
        for experiment_id, definition in rows:
            try:
                found.append(load_experiment(json.loads(definition)))
            except (SplitlabError, ValueError) as exc:  # one bad row must not hide the rest
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                logger.error(
                    "registry: experiment %s left out of the list: %s", experiment_id, first
                )
        return found

    def write_state(
        self,
        experiment: Experiment,
        *,
        kind: str,
        from_value: str | None,
        to_value: str | None,
        by: str,
        reason: str,
        at: datetime,
        look: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> Change:
        """Store ``experiment``'s new state and append the audit record, atomically.

        Only :mod:`splitlab.evaluation.lifecycle` calls this: it validates the change first.
        """
        with self.transaction():
            if self._row(experiment.id) is None:
                raise _unknown(experiment.id)
            stamp = format_time(at)
            self._conn.execute(
                "UPDATE splitlab_experiments SET status = ?, definition = ?, updated_at = ? "
                "WHERE experiment_id = ?",
                [experiment.status.value, _definition(experiment), stamp, experiment.id],
            )
            seq = self._next_seq("splitlab_changes", experiment.id)
            change = Change(
                experiment.id, seq, at, kind, from_value, to_value, by, reason, look, details
            )
            self._conn.execute(
                "INSERT INTO splitlab_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    experiment.id,
                    seq,
                    stamp,
                    kind,
                    from_value,
                    to_value,
                    by,
                    reason,
                    look,
                    canonical_json(details or {}),
                ],
            )
            outbox.record_change(self._conn, change, experiment)  # notified iff committed
        if from_value is None and to_value is None:  # a canary step or a bandit update
            logger.info("%s %s by %s: %s", experiment.id, kind, by, reason)
        else:
            logger.info("%s %s: %s -> %s by %s", experiment.id, kind, from_value, to_value, by)
        return change

    def changes(self, experiment_id: str) -> list[Change]:
        """The audit log of one experiment, oldest first."""
        with self.transaction():
            rows = self._conn.execute(
                "SELECT experiment_id, seq, changed_at, kind, from_value, to_value, changed_by, "
                "reason, look, "
                "details FROM splitlab_changes WHERE experiment_id = ? ORDER BY seq",
                [experiment_id],
            ).fetchall()
        return [c for c in map(change_from_row, rows) if c is not None]

    # -- looks ledger --------------------------------------------------------------------

    def append_look(
        self,
        experiment_id: str,
        *,
        number: int,
        peek: bool,
        at: datetime,
        cutoff: datetime,
        triggered_by: str,
        action: str,
        variant: str | None,
        document: str,
    ) -> LookRecord:
        """Append one look (or peek) to the ledger and return it with its sequence number."""
        with self.transaction():
            seq = self._next_seq("splitlab_looks", experiment_id)
            record = LookRecord(
                experiment_id,
                seq,
                number,
                peek,
                at,
                cutoff,
                triggered_by,
                action,
                variant,
                document,
            )
            self._conn.execute(
                "INSERT INTO splitlab_looks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    experiment_id,
                    seq,
                    number,
                    peek,
                    format_time(at),
                    format_time(cutoff),
                    triggered_by,
                    action,
                    variant,
                    document,
                ],
            )
            outbox.record_look(self._conn, record)  # notified iff committed
        return record

    def looks(self, experiment_id: str, *, include_peeks: bool = True) -> list[LookRecord]:
        """Every recorded look of one experiment, oldest first."""
        where = "" if include_peeks else " AND NOT peek"
        with self.transaction():
            rows = self._conn.execute(
                "SELECT experiment_id, seq, number, peek, taken_at, cutoff, triggered_by, action, "
                f"variant, document FROM splitlab_looks WHERE experiment_id = ?{where} "
                "ORDER BY seq",
                [experiment_id],
            ).fetchall()
        return [r for r in map(look_from_row, rows) if r is not None]

    def planned_looks_taken(self, experiment_id: str) -> int:
        """How many planned (non-peek) looks the ledger holds for this experiment."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT count(*) FROM splitlab_looks WHERE experiment_id = ? AND NOT peek",
                [experiment_id],
            ).fetchone()
        return int(row[0]) if row else 0

    # -- helpers -------------------------------------------------------------------------

    def _row(self, experiment_id: str) -> tuple[str] | None:
        row = self._conn.execute(
            "SELECT definition FROM splitlab_experiments WHERE experiment_id = ?",
            [experiment_id],
        ).fetchone()
        return None if row is None else (str(row[0]),)

    def _next_seq(self, table: str, experiment_id: str) -> int:
        row = self._conn.execute(
            f"SELECT coalesce(max(seq), 0) + 1 FROM {table} WHERE experiment_id = ?",
            [experiment_id],
        ).fetchone()
        return int(row[0]) if row else 1


def _unknown(experiment_id: str) -> UnknownExperimentError:
    return UnknownExperimentError(
        f"experimentId {experiment_id!r}: no such experiment in the registry"
    )


def _definition(experiment: Experiment) -> str:
    return canonical_json(experiment.to_wire())
