"""The per-event checks: every rule of the event contract, each problem named.

Used for every event that is not plainly valid (the fast path in
:func:`splitlab.tracking.events.validate_batch` handles those), so the messages here are the
ones users read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from splitlab.tracking.model import (
    MIN_TIMESTAMP_MS,
    AttributeValue,
    Event,
    Known,
    Limits,
    Reject,
    Rejection,
    WireEvent,
)


def shorten(value: Any, limit: int = 80) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return text if len(text) <= limit else text[:limit] + "..."
    return value


def check_one(
    index: int,
    wire: WireEvent,
    known: Known | None,
    limits: Limits,
    now: int,
    events: list[Event],
    rejections: list[Rejection],
) -> None:
    """Check one decoded event; append it to `events` or its problems to `rejections`."""
    before = len(rejections)

    def reject(field: str, value: Any, expected: str) -> None:
        rejections.append(Rejection(index, field, shorten(value), expected))

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
    _check_text("clusterId", wire.cluster_id, limits, reject, required=False, empty=False)
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
            wire.cluster_id,
        )
    )


def _check_text(
    name: str,
    text: str | None,
    limits: Limits,
    reject: Reject,
    required: bool,
    empty: bool = True,
) -> None:
    """`text` present (if `required`), non-empty (unless `empty` allows it) and short enough."""
    if text is None or text == "":
        if required:
            reject(name, text, "a non-empty string")
        elif text == "" and not empty:
            reject(name, text, "a non-empty string, or no such field")
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
