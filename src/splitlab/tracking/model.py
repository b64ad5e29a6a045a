"""The event types: the wire shape, the normalised :class:`Event`, limits and refusals.

See :mod:`splitlab.tracking.events` for the shape on the wire and the validation rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from splitlab.errors import SplitlabError

EventType = Literal["exposure", "metric"]
AttributeValue = str | int | float | bool

#: Timestamps before this (2000-01-01T00:00:00Z, epoch milliseconds) are refused: they are
#: almost always epoch *seconds* sent where milliseconds are expected.
MIN_TIMESTAMP_MS = 946_684_800_000


class Event(msgspec.Struct, rename="camel", omit_defaults=True, frozen=True, gc=False):
    """One accepted event, normalised: ``timestamp`` is epoch milliseconds (UTC).

    Encoding it with ``msgspec.json.encode`` gives the wire shape, so clients can build events
    with this class and send them as they are.
    """

    event_id: str
    type: EventType
    experiment_id: str
    variant: str
    unit_id: str
    timestamp: int
    metric: str | None = None
    value: float | None = None
    attributes: dict[str, AttributeValue] | None = None
    #: The randomisation unit of a cluster design (the unit that was hashed, e.g. the
    #: account) or the switchback unit's value; None for classic experiments.
    cluster_id: str | None = None


class WireEvent(msgspec.Struct, rename="camel", gc=False):
    """What a client may send: every field optional here so that the checks below name them."""

    event_id: str | None = None
    type: EventType = "metric"
    experiment_id: str | None = None
    variant: str | None = None
    unit_id: str | None = None
    user_id: str | None = None
    metric: str | None = None
    value: float | None = None
    timestamp: str | int | float | None = None
    attributes: dict[str, AttributeValue] | None = None
    cluster_id: str | None = None


class Envelope(msgspec.Struct):
    events: list[WireEvent]


class RawEnvelope(msgspec.Struct):
    events: list[msgspec.Raw]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event of a batch was refused."""

    index: int
    field: str
    value: Any
    expected: str

    @property
    def path(self) -> str:
        """The JSON path of the offending value in the batch: ``$[3].value``."""
        where = f"$[{self.index}]"
        return where if self.field == "(event)" else f"{where}.{self.field}"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "path": self.path,
                "value": self.value, "expected": self.expected}  # fmt: skip


class BatchError(SplitlabError):
    """The request body is not a batch of events at all (HTTP 400 or 413)."""

    code = "invalid_batch"

    def __init__(self, message: str, status: int = 400, code: str = "invalid_batch") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Limits:
    """Settable limits of validation."""

    #: Most events in one batch; more is a :class:`BatchError` with status 413.
    max_events: int = 1000
    #: Longest accepted string (ids, names, attribute keys and values), in characters.
    max_string: int = 256
    #: Most attributes on one exposure.
    max_attributes: int = 32
    #: How far in the future (by the collector's clock) a timestamp may be, in seconds.
    max_future_skew_s: float = 300.0


Reject = Callable[[str, Any, str], None]

Known = Mapping[str, Collection[str]]
"""Experiment id -> the names of its variants (what the caller knows to exist)."""


def now_ms() -> int:
    """The current time as epoch milliseconds (what :class:`Event` stores)."""
    return time.time_ns() // 1_000_000
