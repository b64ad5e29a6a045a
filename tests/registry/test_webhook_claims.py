"""Delivery workers sharing a registry (servers on one PostgreSQL) send each due delivery
once: a worker claims a delivery before sending it, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from splitlab.config import load_experiment
from splitlab.evaluation.lifecycle import register
from splitlab.store.registry import Registry
from splitlab.store.webhooks import WebhookStore
from tests.evaluation.conftest import definition
from tests.pg_registry import PostgresDatabases

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _one_due(registry: Registry) -> WebhookStore:
    hooks = WebhookStore.for_store(registry, create=False)
    hooks.add("https://hooks.example.com/a", now=T0)
    register(registry, load_experiment(definition(status="running")), by="a", reason="go")
    return hooks


def test_a_due_delivery_is_claimed_once_until_its_lease_ends(registry: Registry) -> None:
    hooks = _one_due(registry)
    now = T0.timestamp() + 60
    [due] = hooks.due(now)
    assert hooks.claim(due, now=now, lease_seconds=30) is True
    assert hooks.claim(due, now=now, lease_seconds=30) is False
    assert hooks.due(now + 10) == []  # leased: no worker sees it
    assert [d.event_id for d in hooks.due(now + 31)] == [due.event_id]  # lease over: retried
    assert hooks.claim(due, now=now + 31, lease_seconds=30) is True


def test_two_servers_claim_a_delivery_once(pg_databases: PostgresDatabases) -> None:
    """Two registries (two servers' connections) see the same due delivery; one claims it."""
    dsn = pg_databases.new()
    first, second = pg_databases.connect(dsn), pg_databases.connect(dsn)
    a = _one_due(first)
    b = WebhookStore.for_store(second, create=False)
    now = T0.timestamp() + 60
    [due_a], [due_b] = a.due(now), b.due(now)
    assert due_a == due_b
    assert [
        a.claim(due_a, now=now, lease_seconds=30),
        b.claim(due_b, now=now, lease_seconds=30),
    ] == [True, False]
    first.close()
    second.close()
