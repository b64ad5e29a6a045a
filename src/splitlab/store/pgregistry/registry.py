"""The registry in PostgreSQL, shared by several servers, schedulers and CLI commands.

The same :class:`~splitlab.store.registry.Registry` code and SQL as the DuckDB registry, over
a :class:`~splitlab.store.pgregistry.connection.PgConnection`; the tables come from the
versioned migrations (:mod:`splitlab.store.pgregistry.migrations`) instead of DuckDB's
``CREATE TABLE IF NOT EXISTS``.

Several processes write at once here, where DuckDB has one writer. Every registry
transaction therefore starts by taking one transaction-level advisory lock, so registry
transactions run one at a time across every process sharing the database: a status change
reads the current status and writes the next one with nobody in between (the audit log's
``from`` values chain), sequence numbers (``max(seq) + 1``) never collide, and a look is
appended only if the planned look before it is still the last one. The control plane's write
rate is small (people and schedulers), so the serialisation costs nothing that matters; the
assignment path never reads PostgreSQL per request (it serves an in-memory snapshot).
"""

from __future__ import annotations

from splitlab.store.pgregistry.connection import PgConnection, RegistryUnavailableError, redact
from splitlab.store.pgregistry.migrations import migrate
from splitlab.store.registry import Registry

#: The advisory lock key every registry transaction takes (any constant).
REGISTRY_LOCK = 7_351_002

__all__ = ["PostgresRegistry", "RegistryUnavailableError", "is_postgres_address"]


def is_postgres_address(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    return text.startswith(("postgresql://", "postgres://"))


class PostgresRegistry(Registry):
    """Experiments, audit log, looks ledger, canary judgments, webhooks and keys in PostgreSQL.

    ``PostgresRegistry.connect(dsn)`` connects, applies pending migrations and returns the
    registry; :meth:`close` closes its connection.
    """

    def __init__(self, connection: PgConnection) -> None:
        super().__init__(connection, connection.lock, create=False)
        self._pg = connection

    @classmethod
    def connect(cls, dsn: str) -> PostgresRegistry:
        """Connect to ``dsn`` and bring its schema up to date (see :func:`migrate`)."""
        connection = PgConnection(dsn)
        try:
            migrate(connection)
        except BaseException:
            connection.close()
            raise
        return cls(connection)

    def _begun(self) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(?)", [REGISTRY_LOCK])

    @property
    def backend(self) -> str:
        return "postgresql"

    @property
    def dsn(self) -> str:
        return self._pg.dsn

    @property
    def address(self) -> str:
        """The server's address without the password."""
        return redact(self._pg.dsn)

    def version(self) -> int:
        """The registry version: raised by every change to an experiment or a key."""
        with self._lock:
            row = self._conn.execute("SELECT version FROM splitlab_registry_version").fetchone()
        return int(row[0]) if row else 0

    def ping(self) -> bool:
        """Whether PostgreSQL answers now."""
        return self._pg.ping()

    def close(self) -> None:
        self._pg.close()
