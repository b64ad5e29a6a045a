"""Versioned migrations of the PostgreSQL registry.

Each migration is a numbered list of SQL statements. :func:`migrate` applies, in order, every
migration whose number is not yet in ``schema_migrations``, each inside one transaction
together with the row that records it; a transaction-level advisory lock makes two processes
that start at once apply each migration once (the second waits, then finds it recorded). Run
again, it does nothing. A database that records a number this code does not know (written
by a newer splitlab) is refused rather than used.

The tables match the DuckDB registry's columns one for one, so the registry's SQL runs
unchanged on both; PostgreSQL adds the constraints a shared database needs: unique sequence
numbers per experiment, each planned look once per experiment, and a registry version that
every change of an experiment's row increases and announces with ``NOTIFY`` (payload: the
version number only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from splitlab.errors import SplitlabError

#: The channel replicas LISTEN on; each notification's payload is the new version number.
CHANNEL = "splitlab_registry"

#: Advisory lock key (any constant): held while migrating.
MIGRATION_LOCK = 7_351_001


class MigrationError(SplitlabError):
    """The database's schema cannot be used by this version of splitlab."""

    code = "database_unavailable"


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "registry tables",
        (
            """CREATE TABLE splitlab_experiments (
                experiment_id text PRIMARY KEY,
                status text NOT NULL,
                definition text NOT NULL,
                created_at text NOT NULL,
                updated_at text NOT NULL)""",
            """CREATE TABLE splitlab_changes (
                experiment_id text NOT NULL,
                seq integer NOT NULL,
                changed_at text NOT NULL,
                kind text NOT NULL,
                from_value text,
                to_value text,
                changed_by text NOT NULL,
                reason text NOT NULL,
                look integer,
                details text NOT NULL,
                PRIMARY KEY (experiment_id, seq))""",
            """CREATE TABLE splitlab_looks (
                experiment_id text NOT NULL,
                seq integer NOT NULL,
                number integer NOT NULL,
                peek boolean NOT NULL,
                taken_at text NOT NULL,
                cutoff text NOT NULL,
                triggered_by text NOT NULL,
                action text NOT NULL,
                variant text,
                document text NOT NULL,
                PRIMARY KEY (experiment_id, seq))""",
            # Each planned look exactly once, whichever replica's scheduler takes it.
            """CREATE UNIQUE INDEX splitlab_looks_planned_once
                ON splitlab_looks (experiment_id, number) WHERE NOT peek""",
            """CREATE TABLE splitlab_canary_judgments (
                experiment_id text NOT NULL,
                seq integer NOT NULL,
                judged_at text NOT NULL,
                step integer NOT NULL,
                verdict text NOT NULL,
                action text NOT NULL,
                document text NOT NULL,
                PRIMARY KEY (experiment_id, seq))""",
            """CREATE TABLE api_keys (
                key_id text PRIMARY KEY,
                kind text NOT NULL,
                name text NOT NULL,
                key_hash text NOT NULL,
                created_at timestamp NOT NULL,
                revoked_at timestamp)""",
        ),
    ),
    Migration(
        2,
        "webhook outbox",
        (
            """CREATE TABLE splitlab_webhooks (
                webhook_id text PRIMARY KEY,
                url text NOT NULL,
                secret text NOT NULL,
                events text NOT NULL,
                description text NOT NULL,
                created_at text NOT NULL,
                removed_at text)""",
            """CREATE TABLE splitlab_outbox (
                event_id text PRIMARY KEY,
                seq bigint NOT NULL UNIQUE,
                type text NOT NULL,
                experiment_id text NOT NULL,
                created_at text NOT NULL,
                body text NOT NULL)""",
            """CREATE TABLE splitlab_webhook_deliveries (
                event_id text NOT NULL,
                webhook_id text NOT NULL,
                seq bigint NOT NULL,
                state text NOT NULL,
                attempts integer NOT NULL,
                first_attempt_at double precision,
                next_attempt_at double precision,
                last_status integer,
                last_error text,
                finished_at text,
                PRIMARY KEY (event_id, webhook_id))""",
            """CREATE TABLE splitlab_webhook_attempts (
                event_id text NOT NULL,
                webhook_id text NOT NULL,
                attempt integer NOT NULL,
                attempted_at text NOT NULL,
                outcome text NOT NULL,
                status integer,
                error text,
                duration_ms double precision NOT NULL)""",
        ),
    ),
    Migration(
        3,
        "registry version and notifications",
        (
            """CREATE TABLE splitlab_registry_version (
                only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                version bigint NOT NULL)""",
            "INSERT INTO splitlab_registry_version VALUES (true, 0)",
            f"""CREATE FUNCTION splitlab_registry_bump() RETURNS trigger
                LANGUAGE plpgsql AS $$
                DECLARE v bigint;
                BEGIN
                    UPDATE splitlab_registry_version SET version = version + 1
                        RETURNING version INTO v;
                    PERFORM pg_notify('{CHANNEL}', v::text);
                    RETURN NULL;
                END $$""",
            """CREATE TRIGGER splitlab_experiments_changed
                AFTER INSERT OR UPDATE OR DELETE ON splitlab_experiments
                FOR EACH STATEMENT EXECUTE FUNCTION splitlab_registry_bump()""",
            """CREATE TRIGGER splitlab_keys_changed
                AFTER INSERT OR UPDATE OR DELETE ON api_keys
                FOR EACH STATEMENT EXECUTE FUNCTION splitlab_registry_bump()""",
        ),
    ),
)


def migrate(connection: Any) -> list[int]:
    """Apply the pending migrations through ``connection`` (a :class:`PgConnection`, autocommit);
    returns the numbers applied now (empty when the schema was already current)."""
    applied: list[int] = []
    with connection.lock:
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)"
            )
            rows = connection.execute("SELECT version FROM schema_migrations").fetchall()
            done = {int(r[0]) for r in rows}
            known = {m.number for m in MIGRATIONS}
            if done - known:
                raise MigrationError(
                    f"registry schema version {max(done)} is newer than this splitlab knows "
                    f"(up to {max(known)}): upgrade splitlab"
                )
            for migration in MIGRATIONS:
                if migration.number in done:
                    continue
                for statement in migration.statements:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.number, migration.name, datetime.now(UTC).isoformat()],
                )
                applied.append(migration.number)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    return applied


def schema_version(connection: Any) -> int:
    """The highest migration recorded in the database (0 before the first)."""
    with connection.lock:
        row = connection.execute(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"
        ).fetchone()
    return int(row[0]) if row else 0
