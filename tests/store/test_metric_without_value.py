"""A metric event without a value counts 1 (docs/events.md) on every path into DuckDB.

The collector and the client's in-process transport (``validate_batch``) already read a missing
or null ``value`` as 1. An :class:`Event` built with ``value=None`` and given straight to the
store's ``ingest`` is acknowledged (written to the log) before it is loaded; it must load as 1,
and must not hold up the events after it."""

from __future__ import annotations

from pathlib import Path

import msgspec

from splitlab.config import load_experiment
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event, validate_batch

T = 1_780_000_000_000
EXPERIMENT = load_experiment(
    {
        "experimentId": "nv",
        "status": "running",
        "variants": ["control", "a"],
        "assignment": {"salt": "nv-salt"},
        "metrics": {
            "primary": {"name": "buy", "type": "conversion"},
            "secondary": [{"name": "buys", "type": "continuous", "event": "buy"}],
        },
    }
)


def _events(value: float | None) -> list[Event]:
    """Units u0..u3 exposed; u0, u1 and u2 buy (u2 twice); a later exposure u4."""
    out = [Event(f"x{u}", "exposure", "nv", ["control", "a"][u % 2], f"u{u}", T) for u in range(4)]
    for n, u in enumerate([0, 1, 2, 2]):
        variant = ["control", "a"][u % 2]
        out.append(Event(f"m{n}", "metric", "nv", variant, f"u{u}", T + 1 + n, "buy", value))
    out.append(Event("x4", "exposure", "nv", "control", "u4", T + 10))
    return out


def test_the_collector_reads_a_missing_or_null_value_as_one() -> None:
    # what the client sends for Event(value=None): the field left out (omit_defaults)
    sent = msgspec.json.encode([e for e in _events(None) if e.type == "metric"])
    assert b'"value"' not in sent
    explicit = sent.replace(b'"metric":"buy"', b'"metric":"buy","value":null')
    for body in (sent, explicit):
        events, rejections = validate_batch(body, None)
        assert rejections == []
        assert [e.value for e in events] == [1.0] * 4


def test_a_store_event_without_value_loads_as_one(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "ones.duckdb") as store:
        store.ingest(_events(1.0))
        expected = store.summary(EXPERIMENT).to_dict()
    with DuckDBStore(tmp_path / "none.duckdb", load_interval_s=0.05) as store:
        store.ingest(_events(None))
        store.flush(timeout=10)  # loads (before: the NOT NULL constraint failed every load)
        values = store.connection.execute("SELECT value FROM metric_events").fetchall()
        assert values == [(1.0,)] * 4
        got = store.summary(EXPERIMENT).to_dict()
    assert got == expected
    assert got["units"] == {"control": 3, "a": 2}  # the exposure after them loaded too
    assert got["metrics"]["buys"]["control"]["sum"] == 3.0  # u0 once, u2 twice
