"""The Kafka forwarder's state in `/healthz`: connected, what waits in the log, the last
error, and `degraded` once the broker has been unreachable too long (a real broker stopped
and started again)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.server.kafka_forward import KafkaForwarder
from splitlab.store import DuckDBStore
from tests.server.serve_process import ServeProcess

from .pipeline import batches
from .tansu import Broker, create_topic, running_s3, running_tansu


def wait_for(read: Callable[[], dict[str, Any]], ready: Callable[[dict[str, Any]], bool]) -> Any:
    """`read()` until `ready` says so (at most 30 s); the last answer."""
    deadline = time.monotonic() + 30
    answer = read()
    while not ready(answer) and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = read()
    return answer


def test_healthz_reports_a_stopped_broker_and_its_return(tmp_path: Path) -> None:
    """A durable broker (Tansu on S3) stopped while the server accepts events, then started
    again: `connected` false and `degraded` after `degraded_after_s`, then back to `ok` once
    the backlog is confirmed."""
    with (
        running_s3("tansu-health") as s3,
        running_tansu(tmp_path, "s3://tansu-health/", s3.env()) as broker,
    ):
        create_topic(broker.bootstrap, "health", 3)
        with DuckDBStore(tmp_path / "server.duckdb", load_interval_s=0.05) as store:
            forwarder = KafkaForwarder(
                store.event_log, broker.bootstrap, "health", degraded_after_s=1.0,
                probe_interval_s=0.2, producer={"reconnect.backoff.max.ms": 200},
            ).start()  # fmt: skip
            store.on_close(forwarder.close)
            ctx = ServerContext.open(store)
            ctx.kafka_health = forwarder.health
            with TestClient(create_app(ctx)) as client:
                _stop_and_start(broker, store, client)


def _stop_and_start(broker: Broker, store: DuckDBStore, client: TestClient) -> None:
    def health() -> dict[str, Any]:
        response = client.get("/healthz")
        assert response.status_code == 200  # degraded still serves
        body: dict[str, Any] = response.json()
        return body

    up = wait_for(health, lambda h: h["kafka"]["connected"])
    assert up["status"] == "ok" and up["kafka"]["waitingBytes"] == 0
    assert "lastError" not in up["kafka"]  # None is left out

    broker.stop()
    for batch in batches("h", 5, 50):  # acknowledged from the log all the same
        assert store.ingest(batch).accepted == 50
    down = wait_for(health, lambda h: h["status"] == "degraded")
    kafka = down["kafka"]
    assert down["status"] == "degraded" and kafka["degraded"]
    assert not kafka["connected"] and kafka["unreachableSeconds"] >= 1.0
    assert kafka["waitingBytes"] > 5 * 50 * 100 and not kafka["caughtUp"]
    assert kafka["lastError"]

    broker.start()
    back = wait_for(health, lambda h: h["status"] == "ok" and h["kafka"]["caughtUp"])
    assert back["status"] == "ok" and back["kafka"]["connected"]
    assert back["kafka"]["waitingBytes"] == 0 and "unreachableSeconds" not in back["kafka"]


def test_serve_with_kafka_reports_the_forwarder(broker: Broker, topic: str, tmp_path: Path) -> None:
    """`splitlab serve --kafka` puts the forwarder's block into its `/healthz`."""
    server = ServeProcess(tmp_path / "server.duckdb", "--no-scheduler", "--kafka",
                          broker.bootstrap, "--kafka-topic", topic)  # fmt: skip
    server.start()
    try:
        answer = wait_for(
            lambda: httpx.get(f"{server.url}/healthz").json(),
            lambda h: h.get("kafka", {}).get("connected", False),
        )
        assert answer["status"] == "ok" and answer["kafka"]["topic"] == topic
    finally:
        server.stop()
