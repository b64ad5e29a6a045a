"""Fresh PostgreSQL databases on a running test server, for registry tests."""

from __future__ import annotations

import itertools
from types import TracebackType

import psycopg

from splitlab.store.pgregistry.registry import PostgresRegistry
from tests.postgres import PostgresServer

_numbers = itertools.count(1)


class PostgresDatabases:
    """Creates databases on ``server`` (``new()``) and drops them on exit."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.created: list[str] = []

    def new(self) -> str:
        """A new empty database; returns its address."""
        name = f"splitlab_t{next(_numbers)}"
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        self.created.append(name)
        return self.server.dsn_for(name)

    def registry(self) -> PostgresRegistry:
        """A registry in a new database (migrated)."""
        return PostgresRegistry.connect(self.new())

    def connect(self, dsn: str) -> PostgresRegistry:
        """Another handle on the registry at ``dsn`` (its own connection: another process)."""
        return PostgresRegistry.connect(dsn)

    def __enter__(self) -> PostgresDatabases:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with psycopg.connect(self.server.dsn, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
