"""The worked examples of docs/metrics.md: one experiment with a metric of every kind.

Two weeks of simulated visitors (seeded, so every run prints the same numbers) go through
the real pipeline: the server's assignment service, the collector's event model, a DuckDB
store, and one planned look of the engine, recorded in the ledger. The script prints, per
metric, what the look concluded; docs/metrics.md shows that output, and
tests/test_metrics_doc.py checks that the doc and this script still agree.

    python examples/metric_kinds.py            # every metric
    python examples/metric_kinds.py retention  # one kind
    python examples/metric_kinds.py --curves   # the look's curves block, shortened

What is simulated, per unit (first visit ``t0`` on one of the 14 days):

* a ``session`` event at ``t0`` and one on each later day ``d`` with a chance that decays
  with ``d`` (a little higher in treatment: the day-7 return);
* half the units are buyers: a buyer's first ``purchase`` comes after exponential hours
  (mean 120 h in control, 90 h in treatment), if before the data cut-off; its value is
  log-normal (mean about 40), and one buyer in 300 spends fifty times more (the outliers the
  cap is for);
* five ``page_load_ms`` events, log-normal (median 800 ms in control, 4 % faster in treatment).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import Status, load_experiment
from splitlab.evaluation import run_look
from splitlab.evaluation.lifecycle import change_status
from splitlab.evaluation.look_view import results_view
from splitlab.evaluation.survival_view import curve_lines
from splitlab.stats.capping import AppliedCap
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
DAYS = 14
CUTOFF = START + timedelta(days=DAYS)
UNITS_PER_DAY = 400
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

#: Each kind's metric, as the doc shows its definition.
METRICS: dict[str, dict[str, Any]] = {
    "conversion": {"name": "purchase_rate", "type": "conversion", "event": "purchase"},
    "continuous": {
        "name": "revenue_per_user",
        "type": "continuous",
        "event": "purchase",
        "aggregation": "sum",
        "cap": {"type": "percentile", "percentile": 99},
    },
    "ratio": {
        "name": "revenue_per_session",
        "type": "ratio",
        "numerator": "purchase",
        "denominator": "session",
    },
    "quantile": {
        "name": "p95_page_load",
        "type": "quantile",
        "event": "page_load_ms",
        "quantile": 0.95,
        "direction": "decrease",
    },
    "retention": {
        "name": "day7_return",
        "type": "retention",
        "event": "session",
        "retention": {"day": 7},
    },
    "time_to_event": {
        "name": "time_to_purchase",
        "type": "time_to_event",
        "event": "purchase",
        "horizonHours": 72,
        "direction": "decrease",
    },
}

EXPERIMENT: dict[str, Any] = {
    "experimentId": "exp-metric-kinds",
    "name": "Metric kinds",
    "status": "draft",
    "variants": ["control", "treatment"],
    "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "metric-kinds"},
    "metrics": {
        "primary": METRICS["conversion"],
        "secondary": [METRICS[k] for k in METRICS if k != "conversion"],
    },
    "evaluation": {
        "method": "frequentist_t_test",
        "alpha": 0.05,
        "correction": "none",
        "sequential": {"method": "none"},
        "maxPeeks": 1,
        "minSampleSize": 1000,
    },
}

_PURCHASE_MEAN_HOURS = {"control": 120.0, "treatment": 90.0}
_HABIT = {"control": (0.30, 0.12), "treatment": (0.30, 0.15)}
_PAGE_LOAD_MEDIAN_MS = {"control": 800.0, "treatment": 768.0}


def simulate(service: ExperimentAssignmentService, seed: int = 2026) -> list[Event]:
    """Exposures and metric events of every unit, up to the cut-off."""
    rng = np.random.default_rng(seed)
    eid = EXPERIMENT["experimentId"]
    end = int(CUTOFF.timestamp() * 1000)
    events: list[Event] = []
    for day in range(DAYS):
        ids = [f"d{day:02d}-u{i:04d}" for i in range(UNITS_PER_DAY)]
        arrivals = int((START + timedelta(days=day)).timestamp() * 1000) + np.sort(
            rng.integers(0, DAY_MS, UNITS_PER_DAY)
        )
        for unit, t0, a in zip(ids, arrivals.tolist(), service.assign_many(eid, ids), strict=True):
            v = str(a.variant)
            events.append(Event(f"x:{unit}", "exposure", eid, v, unit, t0))
            start, floor = _HABIT[v]
            for d in range(DAYS):
                chance = 1.0 if d == 0 else start * np.exp(-d / 4.0) + floor
                at = t0 + d * DAY_MS + (0 if d == 0 else int(rng.uniform(0.02, 0.98) * DAY_MS))
                if rng.random() < chance and at < end:
                    events.append(Event(f"s{d}:{unit}", "metric", eid, v, unit, at,
                                        metric="session", value=1.0))  # fmt: skip
            buyer = rng.random() < 0.5
            at = t0 + int(rng.exponential(_PURCHASE_MEAN_HOURS[v]) * HOUR_MS)
            value = round(float(rng.lognormal(np.log(40.0) - 0.32, 0.8)), 2)
            if rng.random() < 1 / 300:
                value *= 50
            if buyer and at < end:
                events.append(Event(f"p:{unit}", "metric", eid, v, unit, at,
                                    metric="purchase", value=value))  # fmt: skip
            loads = rng.lognormal(np.log(_PAGE_LOAD_MEDIAN_MS[v]), 0.5, 5)
            for k, ms in enumerate(loads.tolist()):
                events.append(Event(f"l{k}:{unit}", "metric", eid, v, unit, t0 + 1000 * k,
                                    metric="page_load_ms", value=round(ms, 1)))  # fmt: skip
    return events


def look(db: Path) -> dict[str, Any]:
    """Register the experiment, send the traffic, take one look; the look's results JSON."""
    experiment = load_experiment(EXPERIMENT)
    store = DuckDBStore(db)
    try:
        registry = Registry.for_store(store)
        registry.create(experiment, at=START - timedelta(hours=1))
        running = change_status(registry, experiment.id, Status.RUNNING, by="example",
                                reason="worked example", now=START)  # fmt: skip
        events = simulate(ExperimentAssignmentService([running]))
        for k in range(0, len(events), 5000):
            store.ingest(events[k : k + 5000])
        record = run_look(store, registry, experiment.id, cutoff=CUTOFF,
                          now=CUTOFF + timedelta(minutes=5), triggered_by="example")  # fmt: skip
        return results_view(record)
    finally:
        store.close()


#: How each kind's values read: (format of a value, format of a difference, unit).
_SHOWN = {
    "conversion": ("{:.1%}", "{:+.1f}", " points"),
    "retention": ("{:.1%}", "{:+.1f}", " points"),
    "time_to_event": ("{:.1f} h", "{:+.1f}", " h"),
}


def _lines(view: dict[str, Any], kind: str) -> list[str]:
    """What the look says about the metric of `kind`."""
    name = METRICS[kind]["name"]
    [metric] = [m for m in view["metrics"] if m["name"] == name]
    [c] = metric["comparisons"]
    out = [f"{name} ({metric['type']}{', ' + metric['quantile'] if 'quantile' in metric else ''})"]
    for entry in view.get("capping", []):
        if entry["metric"] == name:
            out.append(f"  {AppliedCap.from_dict(entry).short()}")
    value, diff, unit = _SHOWN.get(kind, ("{:,.4g}", "{:+,.4g}", ""))
    scale = 100.0 if unit == " points" else 1.0
    units = c["units"]
    out.append(
        f"  control {value.format(c['controlMean'])} (n = {units['control']:,}), "
        f"treatment {value.format(c['variantMean'])} (n = {units['variant']:,})"
    )
    if not c["estimable"]:
        out.append(f"  not estimable: {c['reason']}")
    else:
        a, rel = c["absolute"], c["relative"]
        lo, est, hi = (diff.format(a[k] * scale) for k in ("lower", "estimate", "upper"))
        out.append(
            f"  difference {est}{unit} (95% interval {lo} to {hi}), relative "
            f"{rel['estimate']:+.1%}, p = {c['pValue']:.2g}, "
            f"{'significant' if c['significant'] else 'not significant'}"
        )
    curves = view.get("curves", {})
    if name in curves:
        out += ["  " + line.strip() for line in curve_lines({name: curves[name]})[1:]]
    return out


def report(view: dict[str, Any], kinds: list[str] | None = None) -> dict[str, list[str]]:
    """Per kind, the lines the doc shows."""
    return {kind: _lines(view, kind) for kind in kinds or list(METRICS)}


def _short(value: Any) -> Any:
    return float(f"{value:.4g}") if isinstance(value, float) else value


def short_curves(view: dict[str, Any]) -> dict[str, Any]:
    """The look's ``curves`` block cut short for the doc: control's arm only, its curve at
    its first two and last points, numbers to 4 significant digits."""
    out: dict[str, Any] = {}
    for name, block in view.get("curves", {}).items():
        arm = dict(block["arms"][0])
        arm["curve"] = {k: [_short(x) for x in [*v[:2], v[-1]]] for k, v in arm["curve"].items()}
        shortened = {k: _short(v) for k, v in block.items() if k not in ("arms", "differences")}
        shortened["arms"] = [{k: _short(v) for k, v in arm.items()}]
        if "differences" in block:
            shortened["differences"] = [
                {k: ({n: _short(x) for n, x in v.items()} if isinstance(v, dict) else v)
                 for k, v in d.items()}
                for d in block["differences"]
            ]  # fmt: skip
        out[name] = shortened
    return out


def main(argv: list[str]) -> None:
    curves = "--curves" in argv
    kinds = [a for a in argv if a != "--curves"] or list(METRICS)
    unknown = [k for k in kinds if k not in METRICS]
    if unknown:
        raise SystemExit(f"unknown kind {unknown[0]!r}; expected one of {', '.join(METRICS)}")
    with tempfile.TemporaryDirectory() as tmp:
        view = look(Path(tmp) / "metric-kinds.duckdb")
    if curves:
        print(json.dumps(short_curves(view), indent=1))
        return
    for kind, lines in report(view, kinds).items():
        print(f"== {kind}: {json.dumps(METRICS[kind])}")
        print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
