"""The event model: one shape for exposures and metric events, and batch validation.

On the wire (camelCase JSON)::

    {"eventId": "...", "type": "exposure" | "metric", "experimentId": "...",
     "variant": "...", "unitId": "...", "metric": "...", "value": 1.0,
     "timestamp": "2026-01-01T12:00:00Z" | 1767268800000,
     "attributes": {"country": "US"}}

``userId`` (the article's name) is accepted in place of ``unitId``; ``type`` defaults to
``"metric"`` so the article's ``TrackedEvent`` is accepted unchanged; a metric event without a
``value`` counts 1. ``eventId`` is the idempotency key: the same logical event keeps the same id
on every retry. Unknown fields are ignored, so newer clients can talk to older collectors.

:func:`validate_batch` turns a request body into accepted :class:`Event` objects plus one
:class:`Rejection` per problem, each naming the event's index, the field, the value and what was
expected; valid events are kept even when others in the batch are refused. A body that is not
a batch at all (malformed JSON, not a list, too many events) raises :class:`BatchError`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


class _WireEvent(msgspec.Struct, rename="camel", gc=False):
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


class _Envelope(msgspec.Struct):
    events: list[_WireEvent]


class _RawEnvelope(msgspec.Struct):
    events: list[msgspec.Raw]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event of a batch was refused."""

    index: int
    field: str
    value: Any
    expected: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "value": self.value,
                "expected": self.expected}  # fmt: skip


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


def validate_batch(
    body: bytes,
    known: Known | None,
    *,
    limits: Limits | None = None,
    now: int | None = None,
) -> tuple[list[Event], list[Rejection]]:
    """Decode and check a batch: the accepted events, and one rejection per problem found.

    ``body`` is a JSON list of events, or an object ``{"events": [...]}``. ``known`` maps each
    experiment id to its variant names; None skips that check (trusted in-process callers).
    ``now`` (epoch ms) is the clock for the future-timestamp check.
    """
    limits = limits or Limits()
    now = now_ms() if now is None else now
    try:
        decoded = msgspec.json.decode(body, type=list[_WireEvent] | _Envelope)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _validate_slowly(body, known, limits, now)
    wires = decoded.events if isinstance(decoded, _Envelope) else decoded
    _check_count(len(wires), limits)
    events: list[Event] = []
    rejections: list[Rejection] = []
    fast = _fast_checker(known, limits, now)
    for index, wire in enumerate(wires):
        event = fast(wire)
        if event is None:
            _check_one(index, wire, known, limits, now, events, rejections)
        else:
            events.append(event)
    return events, rejections


def _fast_checker(
    known: Known | None, limits: Limits, now: int
) -> Callable[[_WireEvent], Event | None]:
    """The common case in one function: a plainly valid event, or None to check it in detail.

    Used only after msgspec decoded the whole batch, so numbers are already finite (JSON has
    no NaN and msgspec refuses overflowing numbers).
    """
    longest = limits.max_string
    lowest = MIN_TIMESTAMP_MS
    highest = now + int(limits.max_future_skew_s * 1000)

    def check(wire: _WireEvent) -> Event | None:
        unit = wire.unit_id if wire.user_id is None else None if wire.unit_id else wire.user_id
        eid, exp, variant, ts = wire.event_id, wire.experiment_id, wire.variant, wire.timestamp
        if not (
            eid and exp and variant and unit and type(ts) is int and lowest <= ts <= highest
            and len(eid) <= longest and len(exp) <= longest and len(variant) <= longest
            and len(unit) <= longest
        ):  # fmt: skip
            return None
        if known is not None:
            variants = known.get(exp)
            if variants is None or variant not in variants:
                return None
        if wire.type == "metric":
            metric = wire.metric
            if not metric or len(metric) > longest or wire.attributes is not None:
                return None
            value = 1.0 if wire.value is None else wire.value
            return Event(eid, "metric", exp, variant, unit, ts, metric, value)
        if wire.metric is not None or wire.value is not None or wire.attributes:
            return None
        return Event(eid, "exposure", exp, variant, unit, ts)

    return check


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.max_events:
        raise BatchError(
            f"a batch holds at most {limits.max_events} events (got {count}); split it",
            status=413,
            code="batch_too_large",
        )


_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


def _validate_slowly(
    body: bytes, known: Known | None, limits: Limits, now: int
) -> tuple[list[Event], list[Rejection]]:
    """The path for batches with at least one bad event: check the events one by one."""
    try:
        outer = msgspec.json.decode(body, type=list[msgspec.Raw] | _RawEnvelope)
    except msgspec.DecodeError:
        return _validate_python_json(body, known, limits, now)
    except msgspec.ValidationError as exc:
        raise BatchError(
            f"expected a JSON list of events or an object {{'events': [...]}} ({exc})"
        ) from None
    raws = outer.events if isinstance(outer, _RawEnvelope) else outer
    _check_count(len(raws), limits)
    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, raw in enumerate(raws):
        try:
            wire = msgspec.json.decode(raw, type=_WireEvent)
        except msgspec.ValidationError as exc:
            rejections.append(_type_rejection(index, exc, raw))
            continue
        _check_one(index, wire, known, limits, now, events, rejections)
    return events, rejections


def _validate_python_json(
    body: bytes, known: Known | None, limits: Limits, now: int
) -> tuple[list[Event], list[Rejection]]:
    """Bodies msgspec refuses as JSON: Python's ``json`` also reads NaN and Infinity.

    Many JSON encoders (Python's among them) write non-finite numbers as ``NaN`` and
    ``Infinity``. Reading them here means such an event is refused on its own, with its index,
    instead of failing the whole batch.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BatchError(f"the body is not valid JSON: {exc}", code="malformed_json") from None
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        data = data["events"]
    if not isinstance(data, list):
        raise BatchError("expected a JSON list of events or an object {'events': [...]}")
    _check_count(len(data), limits)
    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(data):
        try:
            wire = msgspec.convert(item, type=_WireEvent, strict=True)
        except msgspec.ValidationError as exc:
            rejections.append(_type_rejection(index, exc, item))
            continue
        _check_one(index, wire, known, limits, now, events, rejections)
    return events, rejections


def _type_rejection(index: int, exc: msgspec.ValidationError, raw: Any) -> Rejection:
    """A rejection from msgspec's message ("Expected `str`, got `int` - at `$.unitId`")."""
    match = _PATH.match(str(exc))
    message = match.group("message") if match else str(exc)
    path = (match.group("path") if match else None) or ""
    field = path.lstrip(".") or "(event)"
    missing = _MISSING.match(message)
    if missing:
        field = missing.group("field")
    return Rejection(index, field, _value_at(raw, field), _expected_words(message))


_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_WORDS = {
    "str": "a string",
    "float": "a number",
    "int": "an integer",
    "object": "an object",
    "array": "a list",
    "bool": "true or false",
}


def _expected_words(message: str) -> str:
    """msgspec's "Expected `float | null`, got `str`" as "a number (got str)"."""
    if message.startswith("Invalid enum value"):
        return "'exposure' or 'metric'"
    if message.startswith("Number out of range"):
        return "a finite number"
    found = _EXPECTED.match(message)
    if not found:
        return message[:1].lower() + message[1:] if message else "a valid event"
    wanted = [w.strip() for w in found.group("want").split("|") if w.strip() != "null"]
    words = " or ".join(_WORDS.get(w, w) for w in wanted)
    return f"{words} (got {found.group('got')})"


def _value_at(raw: Any, field: str) -> Any:
    """The offending value, as far as it can be read back (a shortened text otherwise)."""
    data: Any = raw
    if isinstance(raw, msgspec.Raw):
        try:
            data = msgspec.json.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return _shorten(bytes(raw).decode("utf-8", "replace"))
    if field == "(event)":
        return _shorten(data)
    for part in field.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return _shorten(data)


def _shorten(value: Any, limit: int = 80) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return text if len(text) <= limit else text[:limit] + "..."
    return value


def _check_one(
    index: int,
    wire: _WireEvent,
    known: Known | None,
    limits: Limits,
    now: int,
    events: list[Event],
    rejections: list[Rejection],
) -> None:
    """Check one decoded event; append it to `events` or its problems to `rejections`."""
    before = len(rejections)

    def reject(field: str, value: Any, expected: str) -> None:
        rejections.append(Rejection(index, field, _shorten(value), expected))

    unit_id = wire.unit_id
    if wire.user_id is not None:
        if unit_id is not None and unit_id != wire.user_id:
            reject("userId", wire.user_id, f"the same value as unitId ({unit_id!r}) or absent")
        unit_id = unit_id or wire.user_id
    for name, text in (
        ("eventId", wire.event_id),
        ("experimentId", wire.experiment_id),
        ("variant", wire.variant),
        ("unitId", unit_id),
    ):
        _check_text(name, text, limits, reject, required=True)
    if known is not None and wire.experiment_id:
        variants = known.get(wire.experiment_id)
        if variants is None:
            reject("experimentId", wire.experiment_id, "the id of a known experiment")
        elif wire.variant and wire.variant not in variants:
            reject("variant", wire.variant, f"one of {sorted(variants)}")
    if wire.type == "metric":
        _check_text("metric", wire.metric, limits, reject, required=True)
        if wire.value is not None and not math.isfinite(wire.value):
            reject("value", wire.value, "a finite number")
        if wire.attributes is not None:
            reject("attributes", wire.attributes, "no attributes on a metric event")
    else:
        if wire.metric is not None:
            reject("metric", wire.metric, "no metric on an exposure event")
        if wire.value is not None:
            reject("value", wire.value, "no value on an exposure event")
        _check_attributes(wire.attributes, limits, reject)
    timestamp = _check_timestamp(wire.timestamp, limits, now, reject)
    if len(rejections) > before:
        return
    assert wire.event_id and wire.experiment_id and wire.variant and unit_id
    assert timestamp is not None
    value = None if wire.type == "exposure" else (1.0 if wire.value is None else wire.value)
    events.append(
        Event(
            wire.event_id,
            wire.type,
            wire.experiment_id,
            wire.variant,
            unit_id,
            timestamp,
            wire.metric,
            value,
            wire.attributes or None,
        )
    )


def _check_text(
    name: str, text: str | None, limits: Limits, reject: Reject, required: bool
) -> None:
    if text is None or text == "":
        if required:
            reject(name, text, "a non-empty string")
    elif len(text) > limits.max_string:
        reject(name, text, f"a string of at most {limits.max_string} characters")


def _check_attributes(
    attrs: dict[str, AttributeValue] | None, limits: Limits, reject: Reject
) -> None:
    if not attrs:
        return
    if len(attrs) > limits.max_attributes:
        reject("attributes", f"{len(attrs)} attributes", f"at most {limits.max_attributes}")
        return
    for key, value in attrs.items():
        _check_text("attributes", key, limits, reject, required=True)
        if isinstance(value, str):
            _check_text(f"attributes.{key}", value, limits, reject, required=False)
        elif isinstance(value, float) and not math.isfinite(value):
            reject(f"attributes.{key}", value, "a finite number")


def _check_timestamp(
    raw: str | int | float | None, limits: Limits, now: int, reject: Reject
) -> int | None:
    """Epoch milliseconds from an ISO-8601 string (no offset means UTC) or a number."""
    if raw is None:
        reject("timestamp", raw, "an ISO-8601 date-time or epoch milliseconds")
        return None
    if isinstance(raw, str):
        if len(raw) > 64:
            reject("timestamp", raw, "an ISO-8601 date-time such as 2026-01-31T12:00:00Z")
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            reject("timestamp", raw, "an ISO-8601 date-time such as 2026-01-31T12:00:00Z")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        millis = int(parsed.timestamp() * 1000)
    else:
        if not math.isfinite(raw):
            reject("timestamp", raw, "a finite number of epoch milliseconds")
            return None
        millis = int(raw)
    if millis < MIN_TIMESTAMP_MS:
        reject("timestamp", raw, "epoch milliseconds after 2000-01-01 (seconds sent?)")
        return None
    if millis > now + limits.max_future_skew_s * 1000:
        reject("timestamp", raw, f"at most {limits.max_future_skew_s:g} s in the future")
        return None
    return millis
