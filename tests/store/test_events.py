"""The event model and batch validation: what is accepted, and how refusals are named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitlab.tracking.events import BatchError, Event, Limits, validate_batch

NOW = 1_790_000_000_000
KNOWN = {"exp-1": ("control", "treatment")}


def metric(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": "e-1",
        "type": "metric",
        "experimentId": "exp-1",
        "variant": "treatment",
        "unitId": "u-1",
        "metric": "purchase",
        "value": 12.5,
        "timestamp": NOW - 1000,
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not ...}


def check(events: list[Any], **kwargs: Any) -> tuple[list[Event], list[dict[str, Any]]]:
    body = json.dumps(events).encode()
    accepted, rejections = validate_batch(body, KNOWN, now=NOW, **kwargs)
    return accepted, [r.to_dict() for r in rejections]


def test_valid_metric_event_is_normalised() -> None:
    """A valid metric event comes back as an Event with epoch-millisecond timestamp."""
    accepted, rejections = check([metric()])
    assert rejections == []
    assert accepted == [
        Event("e-1", "metric", "exp-1", "treatment", "u-1", NOW - 1000, "purchase", 12.5)
    ]


def test_article_event_shape_is_accepted_unchanged() -> None:
    """The article's TrackedEvent (userId, no type) is a metric event with unitId."""
    article = {"eventId": "a", "userId": "u-9", "timestamp": NOW, "experimentId": "exp-1",
               "variant": "control", "metric": "checkout", "value": 1}  # fmt: skip
    accepted, rejections = check([article])
    assert rejections == []
    assert accepted[0].unit_id == "u-9" and accepted[0].type == "metric"


def test_metric_value_defaults_to_one() -> None:
    """A metric event without a value counts 1 (a conversion)."""
    accepted, _ = check([metric(value=...)])
    assert accepted[0].value == 1.0


def test_exposure_with_attributes() -> None:
    """Exposures carry segment attributes and no metric or value."""
    exposure = metric(type="exposure", metric=..., value=..., attributes={"country": "US"})
    accepted, rejections = check([exposure])
    assert rejections == []
    assert accepted[0].attributes == {"country": "US"} and accepted[0].value is None


def test_cluster_id_is_carried_on_both_event_types() -> None:
    """``clusterId`` reaches the Event (exposures and metric events); absent is None."""
    exposure = metric(eventId="x", type="exposure", metric=..., value=..., clusterId="acct-1")
    accepted, rejections = check([metric(clusterId="acct-1"), exposure, metric(eventId="n")])
    assert rejections == []
    assert [e.cluster_id for e in accepted] == ["acct-1", "acct-1", None]
    slow, _ = check([metric(clusterId="acct-2"), metric(eventId="bad", value="x")])
    assert [e.cluster_id for e in slow] == ["acct-2"]  # the per-event path keeps it too


def test_cluster_id_rejection_names_field_value_and_expectation() -> None:
    """The refusal of a bad ``clusterId`` reads as a sentence a user can act on."""
    _, rejections = check([metric(clusterId="")])
    assert rejections == [
        {"index": 0, "field": "clusterId", "path": "$[0].clusterId", "value": "",
         "expected": "a non-empty string, or no such field"}
    ]  # fmt: skip


def test_iso_timestamps_with_and_without_offset() -> None:
    """ISO-8601 strings are converted to epoch ms; no offset means UTC."""
    accepted, _ = check(
        [
            metric(eventId="a", timestamp="2026-09-21T10:00:00Z"),
            metric(eventId="b", timestamp="2026-09-21T12:00:00+02:00"),
            metric(eventId="c", timestamp="2026-09-21T10:00:00"),
        ]
    )
    expected = int(datetime(2026, 9, 21, 10, tzinfo=UTC).timestamp() * 1000)
    assert {e.timestamp for e in accepted} == {expected}


@pytest.mark.parametrize(
    ("event", "field", "expected_part"),
    [
        (metric(eventId=...), "eventId", "non-empty string"),
        (metric(eventId=""), "eventId", "non-empty string"),
        (metric(unitId=...), "unitId", "non-empty string"),
        (metric(experimentId="nope"), "experimentId", "known experiment"),
        (metric(variant="purple"), "variant", "one of ['control', 'treatment']"),
        (metric(metric=...), "metric", "non-empty string"),
        (metric(value="12"), "value", "a number"),
        (metric(value=True), "value", "a number"),
        (metric(value=1e999), "value", "a finite number"),
        (metric(unitId=7), "unitId", "a string"),
        (metric(type="click"), "type", "'exposure' or 'metric'"),
        (metric(timestamp="yesterday"), "timestamp", "ISO-8601"),
        (metric(timestamp=...), "timestamp", "ISO-8601"),
        (metric(timestamp=NOW // 1000), "timestamp", "seconds sent?"),
        (metric(timestamp=NOW + 3_600_000), "timestamp", "in the future"),
        (metric(unitId="u" * 300), "unitId", "at most 256 characters"),
        (metric(attributes={"a": "b"}), "attributes", "no attributes on a metric event"),
        (metric(userId="other"), "userId", "same value as unitId"),
        (metric(type="exposure", value=...), "metric", "no metric on an exposure"),
        (metric(clusterId=42), "clusterId", "a string (got int)"),
        (metric(clusterId=["a"]), "clusterId", "a string (got array)"),
        (metric(clusterId=""), "clusterId", "a non-empty string, or no such field"),
        (metric(clusterId="c" * 300), "clusterId", "at most 256 characters"),
    ],
)
def test_each_problem_is_named(event: dict[str, Any], field: str, expected_part: str) -> None:
    """A bad event is refused with its index, the field, the value and what was expected."""
    accepted, rejections = check([metric(eventId="good"), event])
    assert [e.event_id for e in accepted] == ["good"]
    assert rejections, "the bad event must be refused"
    assert {r["index"] for r in rejections} == {1}
    match = [r for r in rejections if r["field"] == field]
    assert match, rejections
    assert expected_part in match[0]["expected"]
    assert "value" in match[0]


def test_nan_and_infinity_literals_refuse_only_their_event() -> None:
    """NaN / Infinity (as Python's json writes them) refuse that event, not the batch."""
    body = (
        b'[{"eventId":"ok","experimentId":"exp-1","variant":"control","unitId":"u",'
        b'"metric":"m","value":1,"timestamp":%d},'
        b'{"eventId":"nan","experimentId":"exp-1","variant":"control","unitId":"u",'
        b'"metric":"m","value":NaN,"timestamp":%d},'
        b'{"eventId":"inf","experimentId":"exp-1","variant":"control","unitId":"u",'
        b'"metric":"m","value":-Infinity,"timestamp":%d}]'
    ) % (NOW, NOW, NOW)
    accepted, rejections = validate_batch(body, KNOWN, now=NOW)
    assert [e.event_id for e in accepted] == ["ok"]
    assert [(r.index, r.field, r.value) for r in rejections] == [
        (1, "value", "NaN"),
        (2, "value", "-Infinity"),
    ]


@pytest.mark.parametrize("body", [b"[{", b"", b"not json", b'{"events": 3}', b"42"])
def test_not_a_batch_is_a_400(body: bytes) -> None:
    """A body that is not a list of events raises BatchError with status 400."""
    with pytest.raises(BatchError) as info:
        validate_batch(body, KNOWN, now=NOW)
    assert info.value.status == 400


def test_too_many_events_is_a_413() -> None:
    """More events than the limit is refused as a whole with status 413."""
    body = json.dumps([metric(eventId=str(i)) for i in range(11)]).encode()
    with pytest.raises(BatchError) as info:
        validate_batch(body, KNOWN, now=NOW, limits=Limits(max_events=10))
    assert info.value.status == 413 and "at most 10" in str(info.value)


def test_envelope_form_is_accepted() -> None:
    """``{"events": [...]}`` is the same as the bare list."""
    body = json.dumps({"events": [metric()]}).encode()
    accepted, _ = validate_batch(body, KNOWN, now=NOW)
    assert len(accepted) == 1


def test_unknown_fields_are_ignored() -> None:
    """Fields this version does not know are ignored (newer clients, older collectors)."""
    accepted, rejections = check([metric(sdkVersion="9.9")])
    assert rejections == [] and len(accepted) == 1


def test_known_none_skips_the_experiment_check() -> None:
    """Without a known-experiments mapping, any experiment id is accepted."""
    body = json.dumps([metric(experimentId="anything", variant="x")]).encode()
    accepted, rejections = validate_batch(body, None, now=NOW)
    assert len(accepted) == 1 and rejections == []


ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40)


@given(
    event_id=ids,
    unit_id=ids,
    value=st.floats(allow_nan=False, allow_infinity=False),
    ts=st.integers(min_value=NOW - 10**10, max_value=NOW),
    exposure=st.booleans(),
    cluster=st.none() | ids,
)
def test_events_built_with_the_model_round_trip(
    event_id: str, unit_id: str, value: float, ts: int, exposure: bool, cluster: str | None
) -> None:
    """Any Event encoded by msgspec (what clients send) validates back to itself."""
    if exposure:
        event = Event(
            event_id, "exposure", "exp-1", "control", unit_id, ts, None, None, {"k": 1}, cluster
        )
    else:
        event = Event(
            event_id, "metric", "exp-1", "control", unit_id, ts, "m", value, None, cluster
        )
    accepted, rejections = validate_batch(msgspec.json.encode([event]), KNOWN, now=NOW)
    assert rejections == []
    assert accepted == [event]
