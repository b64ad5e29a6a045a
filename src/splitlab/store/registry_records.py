"""What the registry holds and hands out: audit-log entries, ledger records, errors, time.

Value types and helpers of :mod:`splitlab.store.registry`, kept apart from the SQL so that
each file has one job; the registry module re-exports every name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from splitlab.errors import SplitlabError


class RegistryError(SplitlabError):
    """A registry operation that cannot be done (unknown or duplicate experiment)."""

    code = "registry_error"


class UnknownExperimentError(RegistryError, KeyError):
    """No experiment with this id is registered."""

    code = "unknown_experiment"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown experiment"


class DuplicateExperimentError(RegistryError):
    """An experiment with this id is already registered."""

    code = "duplicate_experiment"


def format_time(moment: datetime) -> str:
    """A UTC instant as fixed-width ISO-8601 with microseconds and ``Z`` (sorts as text)."""
    if moment.tzinfo is None:
        raise RegistryError(f"time {moment.isoformat()!r}: expected a timezone-aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time` (also accepts any ISO-8601 with an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def canonical_json(data: Any) -> str:
    """The one JSON encoding the ledger uses: key order kept, compact, no NaN, UTF-8 text."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Change:
    """One entry of the audit log: a status change or a variant toggle."""

    experiment_id: str
    seq: int
    at: datetime
    kind: str
    from_value: str | None
    to_value: str | None
    by: str
    reason: str
    look: int | None = None
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "experimentId": self.experiment_id,
            "seq": self.seq,
            "at": format_time(self.at),
            "kind": self.kind,
            "from": self.from_value,
            "to": self.to_value,
            "by": self.by,
            "reason": self.reason,
            "look": self.look,
            "details": self.details or {},
        }


@dataclass(frozen=True)
class LookRecord:
    """One entry of the looks ledger.

    ``number`` is the planned look's number (1..maxPeeks); a read-only peek carries the
    number of the last planned look before it and ``peek=True``. ``document`` is the exact
    JSON text produced at the time (decision, results, sums, data quality, actions taken);
    re-rendering a look returns this text unchanged.
    """

    experiment_id: str
    seq: int
    number: int
    peek: bool
    at: datetime
    cutoff: datetime
    triggered_by: str
    action: str
    variant: str | None
    document: str

    def to_dict(self) -> dict[str, Any]:
        """The look document as data."""
        data: dict[str, Any] = json.loads(self.document)
        return data
