"""Webhook subscriptions, the delivery worker's queue and the delivery log.

The tables are described (and created) in :mod:`splitlab.store.outbox`, which also fills the
outbox and the delivery rows inside the registry's transactions; this module is what the API,
the CLI and the delivery worker (:mod:`splitlab.server.webhooks`) use to read and move them.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from splitlab.store.outbox import (
    EVENT_TYPES,
    Connection,
    Lock,
    WebhookError,
    create_tables,
)
from splitlab.store.registry_records import format_time

__all__ = ["EVENT_TYPES", "Due", "Webhook", "WebhookError", "WebhookStore"]


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
        self, connection: Connection, lock: Lock | None = None, *, create: bool = True
    ) -> None:
        self._conn = connection
        self._lock: Lock = lock if lock is not None else threading.RLock()
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

    def claim(self, due: Due, *, now: float, lease_seconds: float) -> bool:
        """Take ``due`` for one attempt: its next attempt moves ``lease_seconds`` ahead, so
        another delivery worker on the same registry (another server) skips it; False when
        another worker took it first. An attempt that never gets recorded (the process died)
        is retried once the lease ends."""
        with self._lock:
            rows = self._conn.execute(
                "UPDATE splitlab_webhook_deliveries SET next_attempt_at = ? "
                "WHERE event_id = ? AND webhook_id = ? AND state = 'pending' AND attempts = ? "
                "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) RETURNING event_id",
                [now + lease_seconds, due.event_id, due.webhook_id, due.attempts, now],
            ).fetchall()
        return len(rows) == 1


def _webhook(row: Sequence[Any]) -> Webhook:
    webhook_id, url, events, description, created, removed, secret = row
    return Webhook(
        webhook_id, url, tuple(json.loads(events)), description, created, removed, _hint(secret)
    )
