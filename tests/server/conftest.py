"""Fixtures of the server tests: a real DuckDB store in a temp dir, keys, and test clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from splitlab.demo.setup import DemoResult
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from tests.demo_template import open_copy

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
def demo(
    demo_template: DemoResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoResult]:
    """A small but complete demo (nine experiments, a holdout among them, six days), opened once
    for the dashboard tests (test_dashboard.py changes only its classic experiments;
    test_demo_adaptive.py reads the canary and the bandit): a copy of the session's build."""
    result = open_copy(demo_template, tmp_path_factory.mktemp("demo"))
    try:
        yield result
    finally:
        result.ctx.store.close()
