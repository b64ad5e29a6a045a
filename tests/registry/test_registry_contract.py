"""The registry's contract, one suite run against both backends (DuckDB and a real
PostgreSQL): experiments, the audit log, the looks ledger, atomic transactions, and the
tables that commit with them (webhook outbox, canary judgments, keys)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from splitlab.config import Status, load_experiment
from splitlab.evaluation.lifecycle import TransitionError, change_status, register
from splitlab.server.keys import KeyKind, KeyStore
from splitlab.store.canary_ledger import CanaryLedger
from splitlab.store.registry import (
    DuplicateExperimentError,
    Registry,
    UnknownExperimentError,
)
from splitlab.store.webhooks import WebhookStore
from tests.evaluation.conftest import definition

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_create_get_list_and_refusals(registry: Registry) -> None:
    """Registered experiments come back as stored, listed by id; duplicates and unknown ids
    are refused with the id named."""
    second = load_experiment(definition(experimentId="exp-a"))
    first = load_experiment(definition(experimentId="exp-b", name="Ünïcode ✓"))
    registry.create(first, at=T0)
    registry.create(second, at=T0 + timedelta(hours=1))
    assert [e.id for e in registry.experiments()] == ["exp-a", "exp-b"]
    assert registry.get("exp-b") == first
    assert registry.get("exp-b").name == "Ünïcode ✓"
    assert registry.created_at("exp-a") == T0 + timedelta(hours=1)
    with pytest.raises(DuplicateExperimentError, match="'exp-a'"):
        registry.create(second, at=T0)
    with pytest.raises(UnknownExperimentError, match="'nope'"):
        registry.get("nope")
    with pytest.raises(UnknownExperimentError, match="'nope'"):
        registry.created_at("nope")


def test_status_changes_chain_in_the_audit_log_and_notify(registry: Registry) -> None:
    """Each change records who, why, from and to; the webhook outbox holds one event each."""
    hooks = WebhookStore.for_store(registry, create=False)
    hooks.add("https://hooks.example.com/x", now=T0)
    experiment = register(
        registry, load_experiment(definition(status="running")), by="ana", reason="launch"
    )
    change_status(registry, experiment.id, "paused", by="bo", reason="incident")
    change_status(registry, experiment.id, Status.RUNNING, by="bo", reason="fixed")
    with pytest.raises(TransitionError):
        change_status(registry, experiment.id, "draft", by="bo", reason="no")
    log = registry.changes(experiment.id)
    assert [(c.seq, c.from_value, c.to_value, c.by) for c in log] == [
        (1, "draft", "running", "ana"),
        (2, "running", "paused", "bo"),
        (3, "paused", "running", "bo"),
    ]
    assert registry.get(experiment.id).status is Status.RUNNING
    events = hooks.events(experiment.id)
    assert [e["type"] for e in events] == ["experiment.status_changed"] * 3


def test_a_failed_transaction_leaves_nothing(registry: Registry) -> None:
    """An error inside a transaction undoes every write in it, the outbox's included."""
    experiment = load_experiment(definition())
    with pytest.raises(RuntimeError), registry.transaction():
        registry.create(experiment, at=T0)
        registry.write_state(
            experiment, kind="status", from_value="draft", to_value="running",
            by="a", reason="r", at=T0,
        )  # fmt: skip
        raise RuntimeError("abort")
    assert registry.experiments() == []
    assert registry.changes(experiment.id) == []
    assert WebhookStore.for_store(registry, create=False).events(experiment.id) == []
    registry.create(experiment, at=T0)  # the registry is usable afterwards
    assert registry.get(experiment.id).id == experiment.id


def test_looks_ledger_keeps_documents_and_counts_planned_looks(registry: Registry) -> None:
    """Looks and peeks come back in order with their exact document text."""
    experiment = registry.create(load_experiment(definition()), at=T0)
    documents = ['{"a":1,"note":"é ✓"}', '{"b":2.5}', '{"c":[1,2]}']
    for i, (peek, text) in enumerate(zip([False, True, False], documents, strict=True)):
        registry.append_look(
            experiment.id, number=1 if i < 2 else 2, peek=peek, at=T0 + timedelta(days=i),
            cutoff=T0 + timedelta(days=i), triggered_by="scheduler", action="continue",
            variant=None, document=text,
        )  # fmt: skip
    everything = registry.looks(experiment.id)
    assert [(r.seq, r.number, r.peek) for r in everything] == [(1, 1, False), (2, 1, True),
                                                               (3, 2, False)]  # fmt: skip
    assert [r.document for r in everything] == documents
    assert [r.seq for r in registry.looks(experiment.id, include_peeks=False)] == [1, 3]
    assert registry.planned_looks_taken(experiment.id) == 2
    assert everything[0].at == T0 and everything[2].cutoff == T0 + timedelta(days=2)


def test_canary_judgments_commit_with_the_registry(registry: Registry) -> None:
    """A judgment written in a rolled-back registry transaction is gone with it."""
    ledger = CanaryLedger.for_store(registry)
    ledger.append("exp-c", at=T0, step=0, verdict="pass", action="wait", document={"x": 1})
    with pytest.raises(RuntimeError), registry.transaction():
        ledger.append("exp-c", at=T0, step=0, verdict="fail", action="rollback", document={})
        raise RuntimeError("abort")
    judged = ledger.judgments("exp-c")
    assert [(j.seq, j.verdict, j.to_dict()) for j in judged] == [(1, "pass", {"x": 1})]


def test_keys_live_with_the_registry(registry: Registry) -> None:
    """Keys are created, checked and revoked in the registry's database."""
    keys = KeyStore(registry.connection, registry.lock)
    admin = keys.create(KeyKind.ADMIN, "first")
    sdk = keys.create("sdk", "web")
    assert keys.verify(admin.secret) is not None and keys.verify(sdk.secret) is not None
    keys.revoke(sdk.key.key_id)
    again = KeyStore(registry.connection, registry.lock)  # a second reader (another replica)
    assert again.verify(sdk.secret) is None
    assert again.verify(admin.secret) is not None
    assert [k.name for k in again.list()] == ["first", "web"]
