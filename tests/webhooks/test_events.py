"""Which event each automatic action produces, and the subscription API and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.evaluation import automatic, lifecycle
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.store.webhooks import WebhookStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE: dict[str, Any] = {
    "status": "draft",
    "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
    "evaluation": {"maxPeeks": 3, "minSampleSize": 100},
}


def canary() -> dict[str, Any]:
    return {
        **BASE,
        "experimentId": "exp-canary",
        "name": "Canary",
        "variants": ["baseline", "canary"],
        "metrics": {"primary": {"name": "request_error", "type": "conversion"}},
        "design": {
            "type": "canary",
            "ramp": [
                {"percent": 5, "minMinutes": 10, "minRequests": 100},
                {"percent": 25, "minMinutes": 10, "minRequests": 100},
                {"percent": 100},
            ],
            "metrics": [
                {
                    "name": "latency",
                    "event": "request_latency_ms",
                    "kind": "mann_whitney",
                    "badDirection": "increase",
                    "tolerance": 0.1,
                },
            ],
        },
    }


def bandit() -> dict[str, Any]:
    return {
        **BASE,
        "experimentId": "exp-bandit",
        "name": "Bandit",
        "variants": ["a", "b", "c"],
        "metrics": {"primary": {"name": "click", "type": "conversion", "windowHours": 24}},
        "design": {"type": "bandit"},
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    found = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05)
    try:
        yield found
    finally:
        found.close()


def test_canary_steps_promotion_and_rollback_and_bandit_updates(store: DuckDBStore) -> None:
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    for raw in (canary(), {**canary(), "experimentId": "exp-canary-2"}, bandit()):
        lifecycle.register(registry, load_experiment(raw), by="t", reason="n", now=T0)
        lifecycle.change_status(registry, raw["experimentId"], "running", by="t", reason="go")
    current = registry.get("exp-canary").to_wire()
    current["design"]["step"] = 1
    current["trafficAllocation"] = 0.5
    judgment = {"verdict": "pass", "step": 0}
    automatic.apply_automatic_change(
        registry, load_experiment(current), kind="canary_step", by="canary monitor",
        reason="step 0 passed", details={"judgment": judgment},
    )  # fmt: skip
    lifecycle.change_status(registry, "exp-canary", "shipped", variant="canary", by="canary "
                            "monitor", reason="ramp complete")  # fmt: skip
    lifecycle.change_status(registry, "exp-canary-2", "rolled_back", by="canary monitor",
                            reason="latency worse")  # fmt: skip
    weighted = registry.get("exp-bandit").to_wire()
    for variant, weight in zip(weighted["variants"], (0.5, 0.3, 0.2), strict=True):
        variant["weight"] = weight
    weighted["design"]["weightsVersion"] = 1
    automatic.apply_automatic_change(
        registry, load_experiment(weighted), kind="bandit_update", by="bandit",
        reason="update 1", details={"seed": 7},
    )  # fmt: skip
    events = [(e["experimentId"], e["type"]) for e in hooks.events()]
    assert events == [
        ("exp-canary", "experiment.status_changed"),
        ("exp-canary-2", "experiment.status_changed"),
        ("exp-bandit", "experiment.status_changed"),
        ("exp-canary", "canary.advanced"),
        ("exp-canary", "canary.promoted"),
        ("exp-canary-2", "canary.rolled_back"),
        ("exp-bandit", "bandit.updated"),
    ]
    advanced = hooks.events()[3]
    assert advanced["data"]["details"]["judgment"] == judgment
    assert advanced["data"]["kind"] == "canary_step"
    assert hooks.events()[-1]["data"]["details"]["seed"] == 7


def test_looks_deciding_rollback_and_halt_are_notified_but_not_continue_or_peeks(
    store: DuckDBStore,
) -> None:
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    for number, (action, peek) in enumerate(
        [("continue", False), ("rollback", True), ("rollback", False), ("halt", False)]
    ):
        registry.append_look("exp-x", number=number, peek=peek, at=T0, cutoff=T0,
                             triggered_by="scheduler", action=action, variant=None,
                             document=json.dumps({"decision": {"action": action}}))  # fmt: skip
    events = hooks.events()
    assert [e["type"] for e in events] == ["experiment.rollback_proposed", "experiment.halted"]
    assert events[0]["data"]["look"] == 2 and events[0]["data"]["triggeredBy"] == "scheduler"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    store = DuckDBStore(tmp_path / "api.duckdb", load_interval_s=0.05)
    ctx = ServerContext.open(store)
    admin = {"Authorization": f"Bearer {ctx.keys.create('admin', 't').secret}"}
    sdk = {"Authorization": f"Bearer {ctx.keys.create('sdk', 't').secret}"}
    try:
        with TestClient(create_app(ctx)) as client:
            yield client, admin, sdk
    finally:
        store.close()


def test_the_api_creates_lists_and_removes_subscriptions_without_showing_secrets(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, sdk = api
    body = {"url": "https://hooks.example.com/in", "events": ["canary.rolled_back"]}
    assert client.post("/v1/webhooks", json=body).status_code == 401
    assert client.post("/v1/webhooks", json=body, headers=sdk).status_code == 403
    created = client.post("/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["secretHint"] == "..." + hook["secret"][-4:]
    listed = client.get("/v1/webhooks", headers=admin).json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0] and listed[0]["deliveries"]["pending"] == 0
    assert hook["secret"] not in client.get(f"/v1/webhooks/{hook['id']}", headers=admin).text
    bad = client.post("/v1/webhooks", json={**body, "events": ["nope"]}, headers=admin)
    assert bad.status_code == 422 and "nope" in bad.text and "canary.advanced" in bad.text
    bad_url = client.post("/v1/webhooks", json={"url": "ftp://x"}, headers=admin)
    assert bad_url.status_code == 422 and "ftp://x" in bad_url.text
    short = client.post("/v1/webhooks", json={**body, "secret": "short"}, headers=admin)
    assert short.status_code == 422
    log = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=admin)
    assert log.status_code == 200 and log.json() == {"deliveries": []}
    removed = client.delete(f"/v1/webhooks/{hook['id']}", headers=admin)
    assert removed.status_code == 200 and removed.json()["removed"] is not None
    assert client.get("/v1/webhooks", headers=admin).json()["webhooks"] == []
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=admin).status_code == 404
    assert client.get("/v1/webhooks/wh_000000000000", headers=admin).status_code == 404


def test_the_cli_adds_lists_and_removes_subscriptions(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    added = runner.invoke(cli, ["webhooks", "add", "http://127.0.0.1:9/in", "--db", db,
                                "--secret", "a-long-enough-secret", "--event",
                                "canary.promoted", "--json"])  # fmt: skip
    assert added.exit_code == 0, added.output
    hook = json.loads(added.output)
    assert hook["events"] == ["canary.promoted"]
    listed = runner.invoke(cli, ["webhooks", "list", "--db", db])
    assert hook["id"] in listed.output and "a-long-enough-secret" not in listed.output
    assert "...cret" in listed.output
    unknown = runner.invoke(cli, ["webhooks", "add", "http://x/", "--db", db, "--event", "x"])
    assert unknown.exit_code == 2 and "canary.advanced" in unknown.output
    short = runner.invoke(cli, ["webhooks", "add", "http://x/", "--db", db, "--secret", "s"])
    assert short.exit_code == 3 and "secret" in short.output and "Traceback" not in short.output
    deliveries = runner.invoke(cli, ["webhooks", "deliveries", hook["id"], "--db", db])
    assert deliveries.exit_code == 0
    removed = runner.invoke(cli, ["webhooks", "remove", hook["id"], "--db", db])
    assert removed.exit_code == 0 and "removed" in removed.output
    again = runner.invoke(cli, ["webhooks", "remove", hook["id"], "--db", db])
    assert again.exit_code == 3 and "already removed" in again.output


def test_the_verification_snippet_in_the_docs_accepts_our_signature_and_nothing_else() -> None:
    import time

    from splitlab.server.webhooks import sign
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    section = page.split("## Verifying the signature", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)
    verify_splitlab = namespace["verify_splitlab"]
    body = b'{"id":"evt_1","type":"canary.promoted"}'
    stamp = str(int(time.time()))
    headers = {"Splitlab-Timestamp": stamp, "Splitlab-Signature": sign("s" * 20, stamp, body)}
    assert verify_splitlab("s" * 20, headers, body)
    assert not verify_splitlab("s" * 20, headers, body + b" ")
    assert not verify_splitlab("t" * 20, headers, body)
    old = str(int(time.time()) - 3600)
    stale = {"Splitlab-Timestamp": old, "Splitlab-Signature": sign("s" * 20, old, body)}
    assert not verify_splitlab("s" * 20, stale, body)


def test_an_experiments_notifications_list_their_delivery_states(
    api: tuple[TestClient, dict[str, str], dict[str, str]],
) -> None:
    client, admin, _ = api
    hook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=admin)
    raw = {**canary(), "status": "running"}
    assert client.post("/v1/experiments", json=raw, headers=admin).status_code == 201
    answer = client.get("/v1/webhooks/notifications/exp-canary", headers=admin)
    assert answer.status_code == 200
    (note,) = answer.json()["notifications"]
    assert note["type"] == "experiment.status_changed" and note["data"]["to"] == "running"
    assert note["deliveries"] == [{"webhookId": hook.json()["id"], "state": "pending",
                                   "attempts": 0, "lastStatus": None, "lastError": None}]  # fmt: skip
    missing = client.get("/v1/webhooks/notifications/exp-none", headers=admin)
    assert missing.status_code == 404
