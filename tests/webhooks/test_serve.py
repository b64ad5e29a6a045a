"""`splitlab serve` delivers notifications to a real receiver and stops on SIGTERM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from splitlab.server.run import free_port
from splitlab.server.webhooks import verify
from tests.server.serve_process import ServeProcess

from .receiver import Receiver

SECRET = "serve-secret-0123456789"


def test_the_server_notifies_a_status_change_made_through_the_api(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "serve.duckdb").start()
    port = free_port()
    try:
        with Receiver(port, lambda n: 200) as receiver:
            created = httpx.post(f"{server.url}/v1/webhooks", headers=server.admin,
                                 json={"url": f"http://127.0.0.1:{port}/in", "secret": SECRET})  # fmt: skip
            assert created.status_code == 201, created.text
            definition = {
                "experimentId": "exp-served",
                "name": "Served",
                "status": "running",
                "variants": ["control", "treatment"],
                "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
                "metrics": {"primary": {"name": "checkout", "type": "conversion"}},
                "evaluation": {"minSampleSize": 100},
            }
            server.register(definition)
            deadline = time.monotonic() + 30
            while not receiver.requests:
                assert time.monotonic() < deadline, "no notification arrived"
                time.sleep(0.05)
            (request,) = receiver.requests
            headers = request["headers"]
            assert verify(SECRET, headers["Splitlab-Timestamp"], request["body"],
                          headers["Splitlab-Signature"])  # fmt: skip
            event = json.loads(request["body"])
            assert event["type"] == "experiment.status_changed"
            assert event["data"]["from"] == "draft" and event["data"]["to"] == "running"
            hook = created.json()["id"]
            log = httpx.get(f"{server.url}/v1/webhooks/{hook}/deliveries", headers=server.admin)
            (delivery,) = log.json()["deliveries"]
            assert delivery["state"] == "delivered" and delivery["log"][0]["status"] == 200
    finally:
        code = server.stop()
    assert code in (0, -15, 143), server.stderr
