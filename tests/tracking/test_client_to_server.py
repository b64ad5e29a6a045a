"""The tracking client against the real `splitlab serve` application, SDK key included."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitlab.config import load_experiment
from splitlab.evaluation.lifecycle import register
from splitlab.server.context import ServerContext
from splitlab.server.run import BackgroundServer
from splitlab.store import DuckDBStore
from splitlab.tracking import TrackingClient
from tests.conftest import ARTICLE_EXAMPLE


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real server on a free port over a fresh store holding the article's experiment."""
    store = DuckDBStore(tmp_path / "splitlab.duckdb")
    ctx = ServerContext.open(store)
    register(ctx.registry, load_experiment(ARTICLE_EXAMPLE), by="test", reason="e2e")
    ctx.refresh()
    sdk = ctx.keys.create("sdk", "tracking test").secret
    with BackgroundServer(ctx) as server:
        yield server, store, sdk
    store.close()


def test_client_with_an_sdk_key_delivers_to_the_server(served) -> None:  # type: ignore[no-untyped-def]
    """Events sent with an SDK key are accepted by `splitlab serve` and counted in the summary."""
    server, store, sdk = served
    exp = load_experiment(ARTICLE_EXAMPLE)
    with TrackingClient.http(server.url, api_key=sdk, register_atexit=False) as client:
        for i in range(50):
            client.exposure(f"u{i}", exp.id, "control")
            client.metric(f"u{i}", exp.id, "control", "checkout_completion_rate", 1.0)
    assert client.stats.accepted == 100
    sums = store.summary(exp)
    assert sums.units["control"] == 50
    assert sums.metrics["checkout_completion_rate"]["control"].sum == 50


def test_client_without_a_key_is_refused_and_counts_it(served) -> None:  # type: ignore[no-untyped-def]
    """Without a key the server answers 401: the client does not retry forever and says so."""
    server, store, _ = served
    exp = load_experiment(ARTICLE_EXAMPLE)
    with TrackingClient.http(server.url, register_atexit=False) as client:
        client.exposure("u1", exp.id, "control")
    assert client.stats.accepted == 0
    assert client.stats.rejected == 1
    assert store.summary(exp).units.get("control", 0) == 0
