"""Real `splitlab serve` replicas sharing one PostgreSQL registry (each with its own event
store file), for the replica tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from splitlab.server.keys import KeyStore
from splitlab.store.pgregistry.registry import PostgresRegistry
from tests.collector.collector_helpers import free_port
from tests.server.serve_process import child_env, stop_reading_stderr, wait_healthy


def make_keys(dsn: str) -> tuple[str, str]:
    """An admin and an SDK key in the shared registry: (admin secret, sdk secret)."""
    registry = PostgresRegistry.connect(dsn)
    try:
        keys = KeyStore(registry.connection, registry.lock)
        return keys.create("admin", "tests").secret, keys.create("sdk", "tests").secret
    finally:
        registry.close()


class Replica:
    """``python -m splitlab serve --db FILE --registry DSN`` on a free loopback port."""

    def __init__(self, db: Path, dsn: str, admin_key: str, sdk_key: str, *extra: str) -> None:
        self.db, self.dsn, self.extra = db, dsn, list(extra)
        self.port = free_port()
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.sdk = {"Authorization": f"Bearer {sdk_key}"}
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        command = [sys.executable, "-m", "splitlab", "serve", "--db", str(self.db),
                   "--registry", self.dsn, "--port", str(self.port), "--log-level", "warning",
                   *self.extra]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_healthy(self.url, self.process, "splitlab serve --registry", timeout=120)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"replica did not start: {self.stderr[-2000:]}") from None
        return self

    def stop(self) -> int:
        assert self.process is not None
        code, self.stderr = stop_reading_stderr(self.process)
        return code

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.admin, timeout=30)

    def assign(self, experiment_id: str, unit: str = "u1") -> dict[str, Any]:
        answer = httpx.post(
            f"{self.url}/v1/assign",
            json={"unitId": unit, "experimentId": experiment_id},
            headers=self.sdk,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()["assignments"][0]
        return found

    def config_status(self, experiment_id: str) -> str | None:
        answer = httpx.get(f"{self.url}/v1/config", headers=self.sdk, timeout=10)
        assert answer.status_code == 200, answer.text
        for experiment in answer.json()["experiments"]:
            if experiment["experimentId"] == experiment_id:
                return str(experiment["status"])
        return None

    def health(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=10).json()
        return found


def wait_until(check: Callable[[], bool], timeout: float = 20.0) -> float:
    """Poll ``check`` until it holds; the seconds it took (fails after ``timeout``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "condition not reached in time"
        time.sleep(0.02)
    return time.monotonic() - start
