"""Quantile metrics in the DuckDB summary: sketches and clustered sums against Python."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from splitlab.config import Experiment, load_experiment
from splitlab.stats.quantile import clustered_sums, quantile_bucket
from splitlab.stats.sketch import Sketch
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event

from .store_helpers import DEFINITION, HOUR, exposed_units, simulate

QUANTILE_METRICS = [
    {"name": "revenue_p90", "type": "quantile", "event": "revenue", "quantile": 0.9,
     "per": "event", "windowHours": 48},
    {"name": "basket_p50", "type": "quantile", "event": "basket", "quantile": 0.5,
     "per": "unit", "aggregation": "max"},
]  # fmt: skip


def quantile_experiment() -> Experiment:
    raw: dict[str, Any] = copy.deepcopy(DEFINITION)
    raw["metrics"]["secondary"] = raw["metrics"]["secondary"] + QUANTILE_METRICS
    return load_experiment(raw)


def expected(events: list[Event], exp: Experiment) -> dict[str, dict[str, Any]]:
    """Per metric and variant: (n, sum, sketch, clustered) by the summary's rules in Python."""
    units = {k: u for k, u in exposed_units(events, 2**62).items() if not u.multi}
    out: dict[str, dict[str, Any]] = {}
    for raw in QUANTILE_METRICS:
        metric = next(m for _, m in exp.metrics.all() if m.name == raw["name"])
        values: dict[str, list[float]] = defaultdict(list)
        owners: dict[str, list[str]] = defaultdict(list)
        per_unit: dict[str, list[float]] = {k: [] for k in units}
        for e in events:
            unit = units.get(e.unit_id)
            if (
                unit is None
                or e.type != "metric"
                or e.metric != metric.event_name
                or e.experiment_id != "sim"
                or e.timestamp < unit.t0
                or (metric.window_hours and e.timestamp >= unit.t0 + metric.window_hours * HOUR)
            ):
                continue
            per_unit[e.unit_id].append(e.value or 0.0)
            values[unit.variant].append(e.value or 0.0)
            owners[unit.variant].append(e.unit_id)
        if metric.per == "unit":
            values = defaultdict(list)
            for key, unit in units.items():
                values[unit.variant].append(max(per_unit[key], default=0.0))
        arms = {}
        for variant in exp.variant_names:
            x = np.asarray(values[variant])
            sketch = Sketch.from_values(x)
            clustered = None
            if metric.per == "event":
                assert metric.quantile is not None
                bucket = quantile_bucket(sketch, metric.quantile)
                clustered = clustered_sums(x, np.asarray(owners[variant]), bucket)
            arms[variant] = (x.size, float(x.sum()), sketch, clustered)
        out[metric.name] = arms
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    events = simulate(np.random.default_rng(20261204), units=600)
    store = DuckDBStore(tmp_path_factory.mktemp("quantile") / "q.duckdb")
    store.ingest(events)
    yield store, events
    store.close()


def test_duckdb_sketches_and_clustered_sums_equal_python(loaded: Any) -> None:
    store, events = loaded
    exp = quantile_experiment()
    sums = store.summary(exp)
    want = expected(events, exp)
    for name, arms in want.items():
        for variant, (n, total, sketch, clustered) in arms.items():
            arm = sums.metrics[name][variant]
            assert arm.n == n, (name, variant)
            assert arm.sum == pytest.approx(total, rel=1e-12)
            assert arm.sketch == sketch, (name, variant)
            assert arm.clustered == clustered, (name, variant)
    # the other metrics are unchanged by the quantile metrics' presence
    plain = store.summary(load_experiment(DEFINITION))
    for name, arms in plain.metrics.items():
        assert sums.metrics[name] == arms
    # and the JSON round trip keeps the sketch and the clustered sums
    again = type(sums).from_dict(sums.to_dict())
    assert again.metrics["revenue_p90"] == sums.metrics["revenue_p90"]


def _latency_events(rng: np.random.Generator, units: int) -> list[Event]:
    """Exposures and per-request latencies (several per unit, a unit effect; the variant
    about 35 % slower), some outside the 24 h window."""
    events: list[Event] = []
    serial = 0
    for u in range(units):
        variant = ["control", "a"][u % 2]
        t0 = 1_780_000_000_000 + u * 1000
        serial += 1
        events.append(Event(f"x{serial}", "exposure", "lat", variant, f"u{u}", t0))
        effect = rng.normal(0.0, 0.5) + (0.3 if variant == "a" else 0.0)
        for _ in range(int(rng.integers(1, 9))):
            serial += 1
            ts = t0 + int(rng.integers(0, 30 * HOUR))
            value = round(float(np.exp(4.0 + effect + rng.normal(0.0, 0.6))), 3)
            events.append(
                Event(f"m{serial}", "metric", "lat", variant, f"u{u}", ts, "latency", value)
            )
    return events


def test_end_to_end_p95_difference(tmp_path: Any) -> None:
    """Events -> DuckDB -> summary -> analyze: the p95 difference and its interval equal a
    direct computation from the raw values (sketch, unit sums and quantile_difference)."""
    from splitlab.stats import analyze
    from splitlab.stats.quantile import quantile_difference

    exp = load_experiment(
        {
            "experimentId": "lat",
            "status": "running",
            "variants": ["control", "a"],
            "assignment": {"salt": "lat"},
            "evaluation": {"correction": "none", "sequential": {"method": "none"}},
            "metrics": {
                "primary": {"name": "latency_p95", "type": "quantile", "event": "latency",
                            "quantile": 0.95, "per": "event", "windowHours": 24,
                            "direction": "decrease"},
            },
        }
    )  # fmt: skip
    events = _latency_events(np.random.default_rng(5), 3000)
    with DuckDBStore(tmp_path / "lat.duckdb") as store:
        store.ingest(events)
        results = analyze(exp, store.summary(exp))
    t0 = {e.unit_id: e.timestamp for e in events if e.type == "exposure"}
    arm: dict[str, tuple[list[float], list[str]]] = {"control": ([], []), "a": ([], [])}
    for e in events:
        if e.type == "metric" and e.timestamp < t0[e.unit_id] + 24 * HOUR:
            arm[e.variant][0].append(e.value or 0.0)
            arm[e.variant][1].append(e.unit_id)
    sketches = {v: Sketch.from_values(np.asarray(x)) for v, (x, _) in arm.items()}
    clustered = {
        v: clustered_sums(np.asarray(x), np.asarray(u), quantile_bucket(sketches[v], 0.95))
        for v, (x, u) in arm.items()
    }
    direct = quantile_difference(
        sketches["control"], sketches["a"], 0.95, 0.05,
        control_clustered=clustered["control"], treatment_clustered=clustered["a"],
    )  # fmt: skip
    comparison = results.metrics[0].comparisons[0]
    assert comparison.estimable, comparison.reason
    assert comparison.absolute is not None
    assert comparison.absolute.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert comparison.absolute.lower == pytest.approx(direct.lower, rel=1e-9)
    assert comparison.absolute.upper == pytest.approx(direct.upper, rel=1e-9)
    assert comparison.p_value == pytest.approx(direct.p_value, rel=1e-9)
    assert comparison.units == (sketches["control"].count, sketches["a"].count)
    assert "p95 per event" in comparison.notes
    assert direct.control.design_effect > 1.2  # the unit effect matters
    assert comparison.direction == "worse" and comparison.significant  # about 35 % slower
