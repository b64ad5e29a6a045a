"""Request and response models of the HTTP API (pydantic; camelCase on the wire).

Experiment definitions are not modelled here: their bodies are read as JSON and validated by
:func:`splitlab.config.parse_experiment`, so the API refuses exactly what ``splitlab
validate`` refuses, with the same problem list. Their OpenAPI schema is the checked-in JSON
Schema of a definition (see :mod:`splitlab.server.openapi`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from splitlab.config import Status
from splitlab.evaluation.cutoff import CUTOFF_RULE, cutoff_problem

Reason = Annotated[
    str,
    Field(min_length=1, max_length=2000, description="Why: recorded in the audit log."),
]


def _iso_text(value: Any) -> Any:
    """Only ISO-8601 text is a cut-off (pydantic would read 0.5 or 1700000000 as epoch time)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(CUTOFF_RULE)
    try:
        return datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(CUTOFF_RULE) from None


def _in_range(value: datetime) -> datetime:
    problem = cutoff_problem(value)
    if problem is not None:
        raise ValueError(f"{CUTOFF_RULE} (this one {problem})")
    return value


#: A data cut-off: ISO-8601 text in the range of :mod:`splitlab.evaluation.cutoff`.
Cutoff = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]


class Body(BaseModel):
    """Base of the API's own models: camelCase, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StatusChange(Body):
    """Move an experiment to another status (validated by the lifecycle)."""

    status: Status
    reason: Reason
    variant: str | None = Field(None, description="Only for `shipped`: the variant everyone gets.")


class Toggle(Body):
    """Force one variant for everyone (the variant toggle), or clear it with `null`."""

    variant: str | None
    reason: Reason


class RollbackRequest(Body):
    """Roll an experiment back: everyone gets control from now on."""

    reason: Reason


class EvaluateRequest(Body):
    """Run a look now."""

    cutoff: Cutoff | None = Field(
        None, description=f"Data cut-off (default: now): {CUTOFF_RULE}; without a zone, UTC."
    )
    peek: bool = Field(
        False, description="A read-only look that cannot trigger a decision or use a planned look."
    )


class KeyRequest(Body):
    kind: Literal["admin", "sdk"]
    name: str = Field("", max_length=200)


class ErrorDetail(Body):
    path: str = Field(description="JSON path of the offending value ($ is the body).")
    value: Any = None
    expected: str


class ErrorInfo(Body):
    status: int
    code: str = Field(description="Machine-readable, e.g. not_found, validation_error.")
    message: str
    details: list[dict[str, Any]] = Field(
        description="Validation problems as {path, value, expected}; otherwise extra context."
    )


class ErrorBody(Body):
    """The one error shape of every failure."""

    error: ErrorInfo


class ExperimentListItem(Body):
    experiment_id: str
    name: str
    status: Status
    traffic_allocation: float
    variants: list[str]
    forced_variant: str | None
    shipped_variant: str | None
    looks: int
    latest_decision: dict[str, Any] | None


class ExperimentList(Body):
    experiments: list[ExperimentListItem]


class ChangeOut(Body):
    experiment_id: str
    seq: int
    at: str
    kind: str
    from_: str | None = Field(alias="from")
    to: str | None
    by: str
    reason: str
    look: int | None
    details: dict[str, Any]


class AuditLog(Body):
    changes: list[ChangeOut]


class LookOut(Body):
    seq: int
    number: int
    peek: bool
    at: str
    cutoff: str
    triggered_by: str
    action: str
    variant: str | None


class LooksLedger(Body):
    looks: list[LookOut]


class RegistryHealth(Body):
    """A shared (PostgreSQL) registry as this server sees it."""

    backend: str
    #: False while PostgreSQL cannot be reached: assignment serves the last snapshot.
    available: bool
    #: Whether changes arrive by LISTEN/NOTIFY (else by polling alone).
    listening: bool
    #: The registry version of the snapshot being served.
    version: int
    checked_seconds_ago: float


class KafkaHealth(Body):
    """The Kafka forwarder as this server sees it (docs/kafka.md, "Health")."""

    topic: str
    #: False while the broker does not answer (events wait in the local log meanwhile).
    connected: bool
    #: Log positions (segment, byte offset): forwarded and confirmed / durable.
    forwarded: list[int]
    durable: list[int]
    caught_up: bool
    #: Bytes of the log durable but not yet confirmed by the broker.
    waiting_bytes: int
    #: Messages handed to the Kafka client and not confirmed yet.
    unconfirmed_messages: int
    last_error: str | None
    #: Seconds since the broker last stopped answering (None while it answers).
    unreachable_seconds: float | None
    #: Unreachable, or passes failing, for longer than the forwarder's limit (15 s).
    degraded: bool


class ClickHouseHealth(Body):
    """The ClickHouse event store (``splitlab serve --clickhouse``) as this server sees it."""

    #: False while loading into ClickHouse fails: events are still acknowledged from the
    #: local log, which keeps them until a retry loads them.
    available: bool
    #: Whether every event acknowledged by this server is loaded into ClickHouse.
    loaded: bool
    #: Why the last load failed (while ``available`` is false).
    error: str | None = None


class Health(Body):
    #: ``degraded``: serving, but the registry, the Kafka broker or ClickHouse cannot be
    #: reached (see ``registry``, ``kafka``, ``clickhouse``).
    status: Literal["ok", "degraded"]
    experiments: int
    version: str
    registry: RegistryHealth | None = None
    kafka: KafkaHealth | None = None
    clickhouse: ClickHouseHealth | None = None


class KeyOut(Body):
    key_id: str
    kind: str
    name: str
    created_at: str
    revoked_at: str | None


class NewKeyOut(Body):
    key: KeyOut
    secret: str = Field(description="The key itself: shown once, never stored.")


class KeyList(Body):
    keys: list[KeyOut]


class MismatchOut(Body):
    claimed: str = Field(description="The variant the page claimed.")
    served: str = Field(description="The variant the server assigns (and stored).")
    count: int


class NotAssignedOut(Body):
    reason: str = Field(description="Why the server assigns no variant (not_targeted, ...).")
    count: int


class ExposureChecksOut(Body):
    """Browser exposures of one experiment, recomputed by the server."""

    experiment_id: str
    checked: int = Field(description="Browser exposures checked (each event id once).")
    mismatched: int = Field(description="Stored with the server's variant: the page claimed "
                            "another.")  # fmt: skip
    not_assigned: int = Field(description="Refused: the server assigns no variant.")
    mismatches: list[MismatchOut]
    not_assigned_reasons: list[NotAssignedOut]
