"""Webhook notifications: the durable outbox, subscriptions and the delivery log.

Every audit-log record (:class:`~splitlab.store.registry_records.Change`) and every look whose
decision is ``ship``, ``rollback`` or ``halt`` becomes one notification, written to
``splitlab_outbox`` by the registry IN THE SAME TRANSACTION as the record itself: a change
that is stored is notified, and a change that is rolled back is not. At the same time one
``splitlab_webhook_deliveries`` row is added per active subscription whose event filter
takes the event; the server's delivery worker (:mod:`splitlab.server.webhooks`) sends them
and records every attempt in ``splitlab_webhook_attempts``.

Tables (in the store's DuckDB file, next to the registry):

* ``splitlab_webhooks``: subscriptions (id, url, secret, event filter, created, removed);
* ``splitlab_outbox``: one row per notification: its id (the idempotency key), type,
  experiment, time and the exact JSON body that is sent on every attempt;
* ``splitlab_webhook_deliveries``: one row per (notification, subscription): state
  ``pending`` | ``delivered`` | ``dead`` | ``cancelled``, attempts, next attempt, last outcome;
* ``splitlab_webhook_attempts``: the delivery log, one row per attempt and its outcome.

Subscriptions, the worker's queue and the log are read and moved by
:class:`splitlab.store.webhooks.WebhookStore`.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from splitlab.config import Experiment
from splitlab.errors import SplitlabError
from splitlab.store.registry_records import Change, LookRecord, canonical_json, format_time

#: Every event type, with what produces it.
EVENT_TYPES: dict[str, str] = {
    "canary.advanced": "a canary moved to its next ramp step (change kind canary_step)",
    "canary.promoted": "a canary experiment changed to shipped",
    "canary.rolled_back": "a canary experiment changed to rolled_back",
    "bandit.updated": "a bandit wrote new weights (change kind bandit_update)",
    "experiment.ship_proposed": "a look decided ship (applied or awaiting a person)",
    "experiment.rollback_proposed": "a look decided rollback (applied or awaiting a person)",
    "experiment.halted": "a look decided halt (a sample ratio mismatch, say)",
    "experiment.rolled_back": "an experiment (not a canary) changed to rolled_back",
    "experiment.status_changed": "any other status change (start, pause, stop, ship)",
    "experiment.toggled": "the variant toggle was set or cleared",
    "experiment.updated": "the definition changed",
}

#: A look decision -> the event it produces (other decisions produce none).
LOOK_EVENTS = {
    "ship": "experiment.ship_proposed",
    "rollback": "experiment.rollback_proposed",
    "halt": "experiment.halted",
}

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS splitlab_webhooks (
        webhook_id VARCHAR PRIMARY KEY,
        url VARCHAR NOT NULL,
        secret VARCHAR NOT NULL,
        events VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        removed_at VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS splitlab_outbox (
        event_id VARCHAR PRIMARY KEY,
        seq BIGINT NOT NULL,
        type VARCHAR NOT NULL,
        experiment_id VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        body VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS splitlab_webhook_deliveries (
        event_id VARCHAR NOT NULL,
        webhook_id VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        state VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        first_attempt_at DOUBLE,
        next_attempt_at DOUBLE,
        last_status INTEGER,
        last_error VARCHAR,
        finished_at VARCHAR,
        PRIMARY KEY (event_id, webhook_id))""",
    """CREATE TABLE IF NOT EXISTS splitlab_webhook_attempts (
        event_id VARCHAR NOT NULL,
        webhook_id VARCHAR NOT NULL,
        attempt INTEGER NOT NULL,
        attempted_at VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL,
        status INTEGER,
        error VARCHAR,
        duration_ms DOUBLE NOT NULL)""",
)


class WebhookError(SplitlabError):
    """A subscription that cannot be created or found."""

    code = "webhook_error"

    def __init__(self, message: str, code: str = "webhook_error") -> None:
        super().__init__(message)
        self.code = code


class Connection(Protocol):
    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


class Lock(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, *args: Any) -> Any: ...


def create_tables(connection: Connection) -> None:
    """Create the outbox tables (the registry calls this inside its own transaction)."""
    for statement in _SCHEMA:
        connection.execute(statement)


# -- production (inside the registry's transaction) ----------------------------------------


def change_event_type(change: Change, experiment: Experiment) -> str:
    """The event type of an audit-log record."""
    if change.kind == "canary_step":
        return "canary.advanced"
    if change.kind == "bandit_update":
        return "bandit.updated"
    if change.kind == "toggle":
        return "experiment.toggled"
    if change.kind == "status":
        if experiment.is_canary and change.to_value == "shipped":
            return "canary.promoted"
        if change.to_value == "rolled_back":
            return "canary.rolled_back" if experiment.is_canary else "experiment.rolled_back"
        return "experiment.status_changed"
    return "experiment.updated"


def record_change(connection: Connection, change: Change, experiment: Experiment) -> None:
    """Queue the notification of ``change`` (call inside the transaction that stores it)."""
    data = change.to_dict()
    data["status"] = experiment.status.value
    _enqueue(connection, change_event_type(change, experiment), change.experiment_id,
             change.at, data)  # fmt: skip


def record_look(connection: Connection, look: LookRecord) -> None:
    """Queue the notification of a look that decided ship, rollback or halt (no peeks)."""
    event_type = None if look.peek else LOOK_EVENTS.get(look.action)
    if event_type is None:
        return
    document = look.to_dict()
    data = {
        "look": look.number,
        "cutoff": format_time(look.cutoff),
        "triggeredBy": look.triggered_by,
        "decision": document.get("decision", {"action": look.action, "variant": look.variant}),
        "actions": document.get("actions", []),
    }
    _enqueue(connection, event_type, look.experiment_id, look.at, data)


def _enqueue(
    connection: Connection, event_type: str, experiment_id: str, at: datetime, data: Any
) -> None:
    event_id = "evt_" + uuid.uuid4().hex
    row = connection.execute("SELECT coalesce(max(seq), 0) + 1 FROM splitlab_outbox").fetchone()
    seq = int(row[0]) if row else 1
    body = canonical_json(
        {"id": event_id, "type": event_type, "experimentId": experiment_id,
         "at": format_time(at), "data": data}
    )  # fmt: skip
    connection.execute(
        "INSERT INTO splitlab_outbox VALUES (?, ?, ?, ?, ?, ?)",
        [event_id, seq, event_type, experiment_id, format_time(at), body],
    )
    for webhook_id, events in connection.execute(
        "SELECT webhook_id, events FROM splitlab_webhooks WHERE removed_at IS NULL"
    ).fetchall():
        wanted = json.loads(events)
        if wanted and event_type not in wanted:
            continue
        connection.execute(
            "INSERT INTO splitlab_webhook_deliveries VALUES "
            "(?, ?, ?, 'pending', 0, NULL, NULL, NULL, NULL, NULL)",
            [event_id, webhook_id, seq],
        )
