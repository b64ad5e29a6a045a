"""What every registry backend offers: the interface the evaluation layer, the server and the
command line program against, whichever database holds the registry.

Two backends implement it: :class:`splitlab.store.registry.Registry` (in the event store's
DuckDB file, the embedded default) and
:class:`splitlab.store.pgregistry.registry.PostgresRegistry` (a PostgreSQL database shared by
several servers). Both pass one test suite (``tests/registry``).

Besides the registry's own records, a backend hands out :attr:`connection` and :attr:`lock`,
through which the tables that must commit together with a registry change live in the same
database: the webhook outbox, the canary judgments and the API keys.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from splitlab.config import Experiment
from splitlab.store.registry_records import Change, LookRecord


class RegistryBackend(Protocol):
    """Experiments, their audit log and the looks ledger, in some database."""

    @property
    def backend(self) -> str:
        """``duckdb`` or ``postgresql``."""
        ...

    @property
    def connection(self) -> Any:
        """The connection the registry writes through (``execute`` with ``?`` parameters)."""
        ...

    @property
    def lock(self) -> Any:
        """Held by anyone using :attr:`connection`."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """One atomic transaction; nested calls on the same thread join the outer one."""
        ...

    def create(self, experiment: Experiment, *, at: datetime) -> Experiment: ...

    def get(self, experiment_id: str) -> Experiment: ...

    def created_at(self, experiment_id: str) -> datetime: ...

    def experiments(self) -> list[Experiment]: ...

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
    ) -> Change: ...

    def changes(self, experiment_id: str) -> list[Change]: ...

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
    ) -> LookRecord: ...

    def looks(self, experiment_id: str, *, include_peeks: bool = True) -> list[LookRecord]: ...

    def planned_looks_taken(self, experiment_id: str) -> int: ...

    def close(self) -> None:
        """Release the backend's own resources (a PostgreSQL connection)."""
        ...
