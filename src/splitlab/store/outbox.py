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
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

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


class _Connection(Protocol):
    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


class _Lock(Protocol):
    def __enter__(self) -> Any: ...

    def __exit__(self, *args: Any) -> Any: ...


def create_tables(connection: _Connection) -> None:
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


def record_change(connection: _Connection, change: Change, experiment: Experiment) -> None:
    """Queue the notification of ``change`` (call inside the transaction that stores it)."""
    data = change.to_dict()
    data["status"] = experiment.status.value
    _enqueue(connection, change_event_type(change, experiment), change.experiment_id,
             change.at, data)  # fmt: skip


def record_look(connection: _Connection, look: LookRecord) -> None:
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
    connection: _Connection, event_type: str, experiment_id: str, at: datetime, data: Any
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


# -- subscriptions, the worker's queue and the log ------------------------------------------


@dataclass(frozen=True, slots=True)
class Webhook:
    """A subscription as listed: the secret only as a hint."""

    webhook_id: str
    url: str
    events: tuple[str, ...]
    description: str
    created_at: str
    removed_at: str | None
    secret_hint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.webhook_id,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "created": self.created_at,
            "removed": self.removed_at,
            "secretHint": self.secret_hint,
        }


@dataclass(frozen=True, slots=True)
class Due:
    """One delivery the worker should attempt now."""

    event_id: str
    webhook_id: str
    url: str
    secret: str
    body: str
    event_type: str
    attempts: int
    first_attempt_at: float | None


def _hint(secret: str) -> str:
    return "..." + secret[-4:]


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    """A subscription's event filter, or an error naming the unknown type."""
    for name in events:
        if name not in EVENT_TYPES:
            raise WebhookError(
                f"events: unknown event type {name!r} (expected one of: "
                f"{', '.join(sorted(EVENT_TYPES))})",
                code="validation_error",
            )
    return tuple(dict.fromkeys(events))


def check_url(url: str) -> str:
    """An http(s) URL with a host, or an error naming it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(
            f"url: {url[:200]!r} is not usable (expected an http:// or https:// URL with a host)",
            code="validation_error",
        )
    return url


class WebhookStore:
    """Subscriptions, due deliveries and the delivery log over a DuckDB connection and lock."""

    def __init__(
        self, connection: _Connection, lock: _Lock | None = None, *, create: bool = True
    ) -> None:
        self._conn = connection
        self._lock: _Lock = lock if lock is not None else threading.RLock()
        if create:
            with self._lock:
                create_tables(self._conn)

    @classmethod
    def for_store(cls, store: Any, *, create: bool = True) -> WebhookStore:
        """The subscriptions in ``store``'s DuckDB file (the registry creates the tables)."""
        return cls(store.connection, store.lock, create=create)

    def add(
        self, url: str, *, secret: str | None = None, events: Sequence[str] = (),
        description: str = "", now: datetime | None = None,
    ) -> tuple[Webhook, str]:  # fmt: skip
        """Subscribe ``url``; returns the subscription and its secret (shown this once)."""
        check_url(url)
        wanted = check_events(events)
        if secret is None:
            secret = "whsec_" + secrets.token_urlsafe(32)
        elif len(secret) < 16:
            raise WebhookError(
                f"secret: {len(secret)} characters is too short to sign with "
                "(expected at least 16; omit it to have one generated)",
                code="validation_error",
            )
        webhook_id = "wh_" + secrets.token_hex(6)
        stamp = format_time(now or datetime.now(UTC))
        with self._lock:
            self._conn.execute(
                "INSERT INTO splitlab_webhooks VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [webhook_id, url, secret, json.dumps(list(wanted)), description, stamp],
            )
        return self.get(webhook_id), secret

    def get(self, webhook_id: str) -> Webhook:
        with self._lock:
            row = self._conn.execute(
                "SELECT webhook_id, url, events, description, created_at, removed_at, secret "
                "FROM splitlab_webhooks WHERE webhook_id = ?",
                [webhook_id],
            ).fetchone()
        if row is None:
            raise WebhookError(
                f"webhook {webhook_id!r}: no such subscription", code="unknown_webhook"
            )
        return _webhook(row)

    def subscriptions(self, *, include_removed: bool = False) -> list[Webhook]:
        where = "" if include_removed else " WHERE removed_at IS NULL"
        with self._lock:
            rows = self._conn.execute(
                "SELECT webhook_id, url, events, description, created_at, removed_at, secret "
                f"FROM splitlab_webhooks{where} ORDER BY created_at, webhook_id"
            ).fetchall()
        return [_webhook(r) for r in rows]

    def remove(self, webhook_id: str, *, now: datetime | None = None) -> Webhook:
        """End a subscription; its pending deliveries are cancelled (the log is kept)."""
        found = self.get(webhook_id)
        if found.removed_at is not None:
            raise WebhookError(
                f"webhook {webhook_id!r}: already removed at {found.removed_at}",
                code="unknown_webhook",
            )
        stamp = format_time(now or datetime.now(UTC))
        with self._lock:
            self._conn.execute(
                "UPDATE splitlab_webhooks SET removed_at = ? WHERE webhook_id = ?",
                [stamp, webhook_id],
            )
            self._conn.execute(
                "UPDATE splitlab_webhook_deliveries SET state = 'cancelled', finished_at = ? "
                "WHERE webhook_id = ? AND state = 'pending'",
                [stamp, webhook_id],
            )
        return self.get(webhook_id)

    def counts(self, webhook_id: str) -> dict[str, int]:
        """Deliveries of one subscription by state."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT state, count(*) FROM splitlab_webhook_deliveries WHERE webhook_id = ? "
                "GROUP BY state",
                [webhook_id],
            ).fetchall()
        found = {"pending": 0, "delivered": 0, "dead": 0, "cancelled": 0}
        found.update({str(s): int(n) for s, n in rows})
        return found

    def due(self, now: float, limit: int = 100) -> list[Due]:
        """Pending deliveries whose next attempt is due at ``now`` (seconds since the epoch)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.event_id, d.webhook_id, w.url, w.secret, o.body, o.type, d.attempts, "
                "d.first_attempt_at FROM splitlab_webhook_deliveries d "
                "JOIN splitlab_webhooks w USING (webhook_id) "
                "JOIN splitlab_outbox o USING (event_id) "
                "WHERE d.state = 'pending' AND (d.next_attempt_at IS NULL "
                "OR d.next_attempt_at <= ?) ORDER BY d.seq, d.webhook_id LIMIT ?",
                [now, limit],
            ).fetchall()
        return [Due(*r) for r in rows]

    def record_attempt(
        self, due: Due, *, outcome: str, status: int | None, error: str | None,
        duration_ms: float, at: float, next_attempt_at: float | None,
    ) -> None:  # fmt: skip
        """Log one attempt and move the delivery on (``delivered``, ``retry`` or ``dead``)."""
        attempt = due.attempts + 1
        first = due.first_attempt_at if due.first_attempt_at is not None else at
        stamp = format_time(datetime.fromtimestamp(at, UTC))
        state = "pending" if outcome == "retry" else outcome
        finished = None if outcome == "retry" else stamp
        with self._lock:
            self._conn.execute("BEGIN TRANSACTION")
            try:
                self._conn.execute(
                    "INSERT INTO splitlab_webhook_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [due.event_id, due.webhook_id, attempt, stamp, outcome, status, error,
                     duration_ms],
                )  # fmt: skip
                self._conn.execute(
                    "UPDATE splitlab_webhook_deliveries SET state = ?, attempts = ?, "
                    "first_attempt_at = ?, next_attempt_at = ?, last_status = ?, "
                    "last_error = ?, finished_at = ? WHERE event_id = ? AND webhook_id = ? "
                    "AND state = 'pending'",
                    [state, attempt, first, next_attempt_at, status, error, finished,
                     due.event_id, due.webhook_id],
                )  # fmt: skip
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def deliveries(
        self, webhook_id: str, *, state: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """One subscription's deliveries, newest first, each with its attempts (the log)."""
        self.get(webhook_id)
        where = " AND d.state = ?" if state else ""
        params: list[Any] = [webhook_id, *([state] if state else []), limit]
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.event_id, o.type, o.experiment_id, o.created_at, d.state, d.attempts, "
                "d.last_status, d.last_error, d.next_attempt_at, d.finished_at "
                "FROM splitlab_webhook_deliveries d JOIN splitlab_outbox o USING (event_id) "
                f"WHERE d.webhook_id = ?{where} ORDER BY d.seq DESC LIMIT ?",
                params,
            ).fetchall()
            ids = [r[0] for r in rows]
            attempts = (
                self._conn.execute(
                    "SELECT event_id, attempt, attempted_at, outcome, status, error, duration_ms "
                    "FROM splitlab_webhook_attempts WHERE webhook_id = ? "
                    "ORDER BY event_id, attempt",
                    [webhook_id],
                ).fetchall()
                if ids
                else []
            )
        log: dict[str, list[dict[str, Any]]] = {}
        for event_id, attempt, at, outcome, status, error, duration in attempts:
            log.setdefault(event_id, []).append(
                {"attempt": attempt, "at": at, "outcome": outcome, "status": status,
                 "error": error, "durationMs": round(float(duration), 3)}
            )  # fmt: skip
        out = []
        for event_id, kind, exp, at, st, n, last_status, last_error, next_at, done in rows:
            out.append(
                {
                    "eventId": event_id,
                    "type": kind,
                    "experimentId": exp,
                    "at": at,
                    "state": st,
                    "attempts": n,
                    "lastStatus": last_status,
                    "lastError": last_error,
                    "nextAttemptAt": (
                        None
                        if next_at is None or st != "pending"
                        else format_time(datetime.fromtimestamp(next_at, UTC))
                    ),
                    "finishedAt": done,
                    "log": log.get(event_id, []),
                }
            )
        return out

    def notifications(self, experiment_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """One experiment's notifications, newest first, each with its deliveries' states."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, body FROM splitlab_outbox WHERE experiment_id = ? "
                "ORDER BY seq DESC LIMIT ?",
                [experiment_id, limit],
            ).fetchall()
            states = self._conn.execute(
                "SELECT d.event_id, d.webhook_id, d.state, d.attempts, d.last_status, "
                "d.last_error FROM splitlab_webhook_deliveries d JOIN splitlab_outbox o "
                "USING (event_id) WHERE o.experiment_id = ? ORDER BY d.webhook_id",
                [experiment_id],
            ).fetchall()
        by_event: dict[str, list[dict[str, Any]]] = {}
        for event_id, webhook_id, state, attempts, status, error in states:
            by_event.setdefault(event_id, []).append(
                {"webhookId": webhook_id, "state": state, "attempts": attempts,
                 "lastStatus": status, "lastError": error}
            )  # fmt: skip
        return [
            {**json.loads(body), "deliveries": by_event.get(event_id, [])}
            for event_id, body in rows
        ]

    def events(self, experiment_id: str | None = None) -> list[dict[str, Any]]:
        """Notifications in the outbox, oldest first (all, or one experiment's)."""
        where = " WHERE experiment_id = ?" if experiment_id else ""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT body FROM splitlab_outbox{where} ORDER BY seq",
                [experiment_id] if experiment_id else [],
            ).fetchall()
        return [json.loads(r[0]) for r in rows]


def _webhook(row: Sequence[Any]) -> Webhook:
    webhook_id, url, events, description, created, removed, secret = row
    return Webhook(
        webhook_id, url, tuple(json.loads(events)), description, created, removed, _hint(secret)
    )
