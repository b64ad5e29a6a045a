"""The event model: one shape for exposures and metric events, and batch validation.

On the wire (camelCase JSON)::

    {"eventId": "...", "type": "exposure" | "metric", "experimentId": "...",
     "variant": "...", "unitId": "...", "metric": "...", "value": 1.0,
     "timestamp": "2026-01-01T12:00:00Z" | 1767268800000,
     "attributes": {"country": "US"}, "clusterId": "account-7"}

``userId`` (the article's name) is accepted in place of ``unitId``; ``type`` defaults to
``"metric"`` so the article's ``TrackedEvent`` is accepted unchanged; a metric event without a
``value`` counts 1. ``clusterId`` (optional, a non-empty string) names the randomisation unit
of a cluster design (``unitId`` then being the analysis unit) or the switchback unit.
``eventId`` is the idempotency key: the same logical event keeps the same id
on every retry. Unknown fields are ignored, so newer clients can talk to older collectors.

:func:`validate_batch` turns a request body into accepted :class:`Event` objects plus one
:class:`Rejection` per problem, each naming the event's index, the field, the value and what was
expected; valid events are kept even when others in the batch are refused. A body that is not
a batch at all (malformed JSON, not a list, too many events) raises :class:`BatchError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from splitlab.tracking.checks import check_one, shorten
from splitlab.tracking.jsontext import json_problem
from splitlab.tracking.model import (
    MIN_TIMESTAMP_MS,
    AttributeValue,
    BatchError,
    Envelope,
    Event,
    EventType,
    Known,
    Limits,
    RawEnvelope,
    Rejection,
    WireEvent,
    now_ms,
)

__all__ = [
    "MIN_TIMESTAMP_MS",
    "AttributeValue",
    "BatchError",
    "Event",
    "EventType",
    "Known",
    "Limits",
    "Rejection",
    "expected_words",
    "now_ms",
    "validate_batch",
]


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
        decoded = msgspec.json.decode(body, type=list[WireEvent] | Envelope)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return _validate_slowly(body, known, limits, now)
    wires = decoded.events if isinstance(decoded, Envelope) else decoded
    _check_count(len(wires), limits)
    events: list[Event] = []
    rejections: list[Rejection] = []
    fast = _fast_checker(known, limits, now)
    for index, wire in enumerate(wires):
        event = fast(wire)
        if event is None:
            check_one(index, wire, known, limits, now, events, rejections)
        else:
            events.append(event)
    return events, rejections


def _fast_checker(
    known: Known | None, limits: Limits, now: int
) -> Callable[[WireEvent], Event | None]:
    """The common case in one function: a plainly valid event, or None to check it in detail.

    Used only after msgspec decoded the whole batch, so numbers are already finite (JSON has
    no NaN and msgspec refuses overflowing numbers).
    """
    longest = limits.max_string
    lowest = MIN_TIMESTAMP_MS
    highest = now + int(limits.max_future_skew_s * 1000)

    def check(wire: WireEvent) -> Event | None:
        unit = wire.unit_id if wire.user_id is None else None if wire.unit_id else wire.user_id
        eid, exp, variant, ts = wire.event_id, wire.experiment_id, wire.variant, wire.timestamp
        cluster = wire.cluster_id
        if cluster is not None and not (cluster and len(cluster) <= longest):
            return None
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
            return Event(eid, "metric", exp, variant, unit, ts, metric, value, None, cluster)
        if wire.metric is not None or wire.value is not None or wire.attributes:
            return None
        return Event(eid, "exposure", exp, variant, unit, ts, cluster_id=cluster)

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
    problem = json_problem(body)
    if problem is not None:
        raise BatchError(f"the body {problem}", code="malformed_json")
    try:
        outer = msgspec.json.decode(body, type=list[msgspec.Raw] | RawEnvelope)
    except msgspec.DecodeError:
        return _validate_python_json(body, known, limits, now)
    except msgspec.ValidationError as exc:
        raise BatchError(
            f"expected a JSON list of events or an object {{'events': [...]}} ({exc})"
        ) from None
    raws = outer.events if isinstance(outer, RawEnvelope) else outer
    decode = msgspec.json.Decoder(WireEvent).decode
    return _check_each(raws, decode, known, limits, now)


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
    return _check_each(
        data, lambda item: msgspec.convert(item, type=WireEvent, strict=True), known, limits, now
    )


def _check_each(
    items: Sequence[Any],
    decode: Callable[[Any], WireEvent],
    known: Known | None,
    limits: Limits,
    now: int,
) -> tuple[list[Event], list[Rejection]]:
    """Decode and check the events one by one; a type error is that event's rejection."""
    _check_count(len(items), limits)
    events: list[Event] = []
    rejections: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            wire = decode(item)
        except msgspec.ValidationError as exc:
            rejections.append(_type_rejection(index, exc, item))
            continue
        check_one(index, wire, known, limits, now, events, rejections)
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
    return Rejection(index, field, _value_at(raw, field), expected_words(message))


_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_WORDS = {
    "str": "a string",
    "float": "a number",
    "int": "an integer",
    "object": "an object",
    "array": "a list",
    "bool": "true or false",
}


def expected_words(message: str) -> str:
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
            # msgspec refuses numbers out of range (1e999); Python's json reads them as inf,
            # which shorten() writes as "Infinity".
            try:
                data = json.loads(bytes(raw))
            except (ValueError, RecursionError):
                return shorten(bytes(raw).decode("utf-8", "replace"))
    if field == "(event)":
        return shorten(data)
    for part in field.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return shorten(data)
