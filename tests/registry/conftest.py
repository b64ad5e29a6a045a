"""Fixtures of the shared registry suite: every test runs against the DuckDB registry and
against the PostgreSQL registry on a real server (one server per test module, a fresh
database per test)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from splitlab.store.registry import Registry
from tests.pg_registry import PostgresDatabases
from tests.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the module."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_databases(postgres_server: PostgresServer) -> Iterator[PostgresDatabases]:
    """Fresh databases on the module's server, dropped after the test."""
    with PostgresDatabases(postgres_server) as databases:
        yield databases


@pytest.fixture(params=["duckdb", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A registry of each backend: a fresh DuckDB file, or a fresh PostgreSQL database."""
    if request.param == "duckdb":
        conn = duckdb.connect(str(tmp_path / "registry.duckdb"))
        yield Registry(conn, threading.RLock())
        conn.close()
        return
    databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    found = databases.registry()
    yield found
    found.close()
