"""Fixtures of the server tests: a real DuckDB store in a temp dir, keys, and test clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from splitlab.demo.setup import DemoResult, build_demo
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore

from .server_helpers import Api


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ServerContext]:
    """A server context over a fresh store file."""
    store = DuckDBStore(tmp_path / "splitlab.duckdb", load_interval_s=0.05)
    try:
        yield ServerContext.open(store)
    finally:
        store.close()


@pytest.fixture
def api(ctx: ServerContext) -> Iterator[Api]:
    """The whole server (gateway + FastAPI) behind Starlette's test client."""
    admin = ctx.keys.create("admin", "tests").secret
    sdk = ctx.keys.create("sdk", "web").secret
    with TestClient(create_app(ctx), base_url="http://testserver") as client:
        yield Api(client, ctx, admin, sdk)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoResult]:
    """A small but complete demo (nine experiments, a holdout among them, six days), built once for the dashboard
    tests (test_dashboard.py changes only its classic experiments; test_demo_adaptive.py
    reads the canary and the bandit)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    result = build_demo(path, scale=0.3, days=6, now=datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    try:
        yield result
    finally:
        result.ctx.store.close()
