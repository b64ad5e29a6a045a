"""Webhooks end to end: registry records -> outbox -> a real HTTP receiver that misbehaves.

The receiver first refuses connections (nothing listens on its port), then answers 500,
then is too slow (past the sender's timeout), then 200. Every notification must arrive,
exactly once after deduplication by its idempotency key, correctly signed; rows left
pending when a worker stops are delivered by the next one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from splitlab.config import load_experiment
from splitlab.evaluation import lifecycle
from splitlab.server.run import free_port
from splitlab.server.webhooks import RetryPolicy, WebhookWorker, verify
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.store.webhooks import WebhookStore

from .receiver import Receiver

SECRET = "test-secret-0123456789"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, max_age_seconds=3600,
                   timeout_seconds=0.3, poll_seconds=0.01)  # fmt: skip


def definition(experiment_id: str = "exp-hooks") -> dict[str, object]:
    return {
        "experimentId": experiment_id,
        "name": "Hooks",
        "status": "draft",
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
        "metrics": {"primary": {"name": "checkout", "type": "conversion"}},
        "evaluation": {"maxPeeks": 3, "minSampleSize": 100},
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    found = DuckDBStore(tmp_path / "hooks.duckdb", load_interval_s=0.05)
    try:
        yield found
    finally:
        found.close()


def produce(registry: Registry, experiment_id: str = "exp-hooks") -> list[str]:
    """Changes and looks of one experiment; the event types they must produce, in order."""
    experiment = load_experiment(definition(experiment_id))
    lifecycle.register(registry, experiment, by="t", reason="new", now=T0)
    lifecycle.change_status(registry, experiment_id, "running", by="t", reason="go", now=T0)
    lifecycle.set_toggle(registry, experiment_id, "control", by="t", reason="incident", now=T0)
    lifecycle.set_toggle(registry, experiment_id, None, by="t", reason="fixed", now=T0)
    at = T0 + timedelta(hours=1)
    for number, action in enumerate(["continue", "ship"], start=1):
        registry.append_look(experiment_id, number=number, peek=False, at=at, cutoff=at,
                             triggered_by="t", action=action, variant=None,
                             document=json.dumps({"decision": {"action": action}}))  # fmt: skip
    registry.append_look(experiment_id, number=2, peek=True, at=at, cutoff=at,
                         triggered_by="t", action="peek", variant=None, document="{}")  # fmt: skip
    lifecycle.change_status(registry, experiment_id, "rolled_back", by="t", reason="bad", now=at)
    return [
        "experiment.status_changed",
        "experiment.toggled",
        "experiment.toggled",
        "experiment.ship_proposed",
        "experiment.rolled_back",
    ]


def test_outbox_rows_are_written_with_the_record_and_only_when_it_commits(
    store: DuckDBStore,
) -> None:
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    hooks.add("http://127.0.0.1:9/x", secret=SECRET)
    expected = produce(registry)
    assert [e["type"] for e in hooks.events()] == expected
    draft = lifecycle.register(
        registry, load_experiment(definition("exp-two")), by="t", reason="n", now=T0
    )
    with pytest.raises(RuntimeError), registry.transaction():
        renamed = draft.model_copy(update={"name": "other"})
        lifecycle.update_definition(registry, renamed, by="t", reason="r", now=T0)
        raise RuntimeError("the caller fails after the change: both are rolled back")
    assert [e["type"] for e in hooks.events()] == expected  # no orphan notification
    assert registry.get("exp-two").name == "Hooks"
    lifecycle.update_definition(registry, renamed, by="t", reason="r", now=T0)
    assert hooks.events()[-1]["type"] == "experiment.updated"
    assert hooks.counts(hooks.subscriptions()[0].webhook_id)["pending"] == len(expected) + 1


def wait_for(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def test_every_notification_arrives_signed_through_refusals_errors_and_timeouts(
    store: DuckDBStore,
) -> None:
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    port = free_port()
    hook, _ = hooks.add(f"http://127.0.0.1:{port}/hook", secret=SECRET)
    only_ship, _ = hooks.add(f"http://127.0.0.1:{port}/ship", secret=SECRET + "x",
                             events=["experiment.ship_proposed"])  # fmt: skip
    expected = produce(registry)
    worker = WebhookWorker(hooks, FAST, seed=1)
    # Nothing listens yet: every attempt is refused and retried later.
    for _ in range(3):
        worker.run_once()
        time.sleep(0.02)
    refused = hooks.deliveries(hook.webhook_id)
    assert all(d["state"] == "pending" for d in refused)
    assert refused[-1]["attempts"] == 3  # the oldest; the rest wait for the receiver
    assert any("Connection" in (d["lastError"] or "") for d in refused)

    def plan(n: int) -> int | str:
        return 500 if n < 3 else 302 if n == 3 else "slow" if n < 6 else 200

    with Receiver(port, plan, slow_seconds=FAST.timeout_seconds * 3) as receiver:
        worker.start()
        try:
            wait_for(lambda: hooks.counts(hook.webhook_id)["delivered"] == len(expected)
                     and hooks.counts(only_ship.webhook_id)["delivered"] == 1)  # fmt: skip
        finally:
            worker.stop()
        assert 500 in receiver.answered and "slow" in receiver.answered
        requests = list(receiver.requests)
    by_path: dict[str, dict[str, dict[str, object]]] = {}
    for request in requests:
        headers = request["headers"]
        body = request["body"]
        event = request["json"]
        assert headers["Idempotency-Key"] == event["id"] == headers["Splitlab-Event-Id"]
        assert headers["Content-Type"] == "application/json"
        assert headers["Splitlab-Event-Type"] == event["type"]
        signed_for = [
            s for s in (SECRET, SECRET + "x")
            if verify(s, headers["Splitlab-Timestamp"], body, headers["Splitlab-Signature"])
        ]  # fmt: skip
        assert len(signed_for) == 1, "signed with exactly one subscription's secret"
        path = "hook" if signed_for[0] == SECRET else "ship"
        by_path.setdefault(path, {})[event["id"]] = event  # deduplicated by idempotency key
    hook_events = sorted(by_path["hook"].values(), key=lambda e: str(e["id"]))
    assert sorted(e["type"] for e in hook_events) == sorted(expected)
    assert [e["type"] for e in by_path["ship"].values()] == ["experiment.ship_proposed"]
    assert set(by_path["hook"]) == {e["id"] for e in hooks.events()}
    rolled = next(e for e in hook_events if e["type"] == "experiment.rolled_back")
    assert rolled["experimentId"] == "exp-hooks"
    assert rolled["data"]["to"] == "rolled_back" and rolled["data"]["reason"] == "bad"
    # The log holds every attempt: refusals, 500s, timeouts and the final success.
    log = [a for d in hooks.deliveries(hook.webhook_id) for a in d["log"]]
    outcomes = {a["outcome"] for a in log}
    assert outcomes == {"retry", "delivered"}
    assert any(a["status"] == 500 for a in log)
    assert any(a["status"] == 302 and a["outcome"] == "retry" for a in log)  # not followed
    assert any("timed out" in (a["error"] or "") for a in log)


def test_a_delivery_failing_past_the_limit_is_dead_and_listed(store: DuckDBStore) -> None:
    registry = Registry.for_store(store)
    hooks = WebhookStore.for_store(store)
    port = free_port()
    hook, _ = hooks.add(f"http://127.0.0.1:{port}/", secret=SECRET)
    lifecycle.register(registry, load_experiment(definition()), by="t", reason="n", now=T0)
    lifecycle.change_status(registry, "exp-hooks", "running", by="t", reason="go", now=T0)
    short = RetryPolicy(base_seconds=0.01, cap_seconds=0.02, max_age_seconds=0.1,
                        timeout_seconds=0.3, poll_seconds=0.01)  # fmt: skip
    with Receiver(port, lambda n: 503):
        worker = WebhookWorker(hooks, short, seed=2).start()
        try:
            wait_for(lambda: hooks.counts(hook.webhook_id)["dead"] == 1)
        finally:
            worker.stop()
    (dead,) = hooks.deliveries(hook.webhook_id, state="dead")
    assert dead["attempts"] >= 2 and dead["lastStatus"] == 503
    assert dead["log"][-1]["outcome"] == "dead"


def test_rows_left_pending_are_delivered_by_the_next_worker(tmp_path: Path) -> None:
    path = tmp_path / "restart.duckdb"
    port = free_port()
    first = DuckDBStore(path, load_interval_s=0.05)
    hooks = WebhookStore.for_store(first)
    hook, _ = hooks.add(f"http://127.0.0.1:{port}/", secret=SECRET)
    expected = produce(Registry.for_store(first))
    worker = WebhookWorker(hooks, FAST, seed=3).start()  # nothing listens: all refused
    wait_for(lambda: hooks.deliveries(hook.webhook_id)[-1]["attempts"] >= 2)
    worker.stop()
    assert hooks.counts(hook.webhook_id)["pending"] == len(expected)
    first.close()

    second = DuckDBStore(path, load_interval_s=0.05)
    try:
        Registry.for_store(second)
        again = WebhookStore.for_store(second)
        with Receiver(port, lambda n: 200) as receiver:
            worker = WebhookWorker(again, FAST, seed=4).start()
            try:
                wait_for(lambda: again.counts(hook.webhook_id)["delivered"] == len(expected))
            finally:
                worker.stop()
        assert sorted(set(receiver.delivered_ids())) == sorted(e["id"] for e in again.events())
    finally:
        second.close()


def test_stop_ends_the_worker_promptly(store: DuckDBStore) -> None:
    hooks = WebhookStore.for_store(store)
    worker = WebhookWorker(hooks, RetryPolicy(poll_seconds=60)).start()
    worker.stop(timeout=5)
    assert worker._thread is not None and not worker._thread.is_alive()
