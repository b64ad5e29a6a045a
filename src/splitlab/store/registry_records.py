"""What the registry holds and hands out: audit-log entries, ledger records, errors, time.

Value types and helpers of :mod:`splitlab.store.registry`, kept apart from the SQL so that
each file has one job; the registry module re-exports every name.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from splitlab.errors import SplitlabError

logger = logging.getLogger(__name__)


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
    # Not strftime's %Y: glibc writes year 1 as "1", which fromisoformat cannot read back.
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-" + utc.strftime("%m-%dT%H:%M:%S.%fZ")


#: A year written without its leading zeros (``1-01-01T...``), as older versions stored
#: years before 1000.
_SHORT_YEAR = re.compile(r"^(\d{1,3})-")


def parse_time(text: str) -> datetime:
    """The inverse of :func:`format_time` (also accepts any ISO-8601 with an offset).

    A year stored without its leading zeros is read as that year; anything else that is not
    ISO-8601 raises :class:`RegistryError` naming the text.
    """
    text = _SHORT_YEAR.sub(lambda m: m.group(1).zfill(4) + "-", text.strip())
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise RegistryError(f"time {text!r}: expected an ISO-8601 date and time") from None


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


def look_from_row(row: Sequence[Any]) -> LookRecord | None:
    """A ledger row as a :class:`LookRecord`, or None (logged) when a stored time is unreadable.

    One damaged row must not make every listing of the ledger fail: it is left out, and the
    log names the experiment, the row's sequence number and what is wrong with it.
    """
    try:
        at, cutoff = parse_time(str(row[4])), parse_time(str(row[5]))
    except RegistryError as exc:
        logger.error("looks ledger: %s look seq %s left out: %s", row[0], row[1], exc)
        return None
    triggered_by, action, variant, document = row[6:10]
    return LookRecord(
        row[0], row[1], row[2], row[3], at, cutoff, triggered_by, action, variant, document
    )


def change_from_row(row: Sequence[Any]) -> Change | None:
    """An audit-log row as a :class:`Change`, or None (logged) when it cannot be read."""
    try:
        at, details = parse_time(str(row[2])), json.loads(row[9])
    except (RegistryError, ValueError) as exc:
        logger.error("audit log: %s change seq %s left out: %s", row[0], row[1], exc)
        return None
    kind, from_value, to_value, by, reason, look = row[3:9]
    return Change(row[0], row[1], at, kind, from_value, to_value, by, reason, look, details)
