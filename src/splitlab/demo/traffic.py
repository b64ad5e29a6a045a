"""Simulated visitors for the demo: attributes, assignment, exposures and metric events.

Each simulated day brings new visitors with realistic attributes (region, account type,
platform, a few internal users and bots). Every visitor is assigned by the server's own
:class:`~splitlab.assignment.ExperimentAssignmentService`, in every experiment; a visitor
who is randomised into a variant (reason ``assigned``) produces an exposure event and then
metric events drawn from that variant's true behaviour (:data:`BEHAVIOUR`). Visitors who
are not targeted, outside the traffic allocation, or served by a rollback or toggle produce
no exposure, as a correctly instrumented application would.

A running holdout covering an experiment (``holdout_id`` on the assignment) is tracked as the
middleware tracks it: the unit is exposed to the holdout in its ``holdout_variant``, and its
metric events are recorded in the holdout too (only those of the holdout's own metrics: the
others would be stored and never read). A held-out unit (reason ``holdout``) is served the
experiment's control and behaves like control, but is recorded only in the holdout.

Randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitlab.assignment import Assignment, ExperimentAssignmentService, Reason
from splitlab.tracking.events import Event

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Conversion:
    """A 0/1 metric: the unit does it (once) with probability ``rate[variant]``."""

    rate: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Duration:
    """A continuous per-unit value: log-normal with mean ``mean[variant]`` (one event)."""

    mean: Mapping[str, float]
    sigma: float = 0.8


@dataclass(frozen=True, slots=True)
class Count:
    """A per-unit count (at least 1, Poisson beyond), sent as one event whose value is it."""

    rate: Mapping[str, float]


Behaviour = Conversion | Duration | Count

#: The true behaviour of each variant, per experiment and metric event name.
BEHAVIOUR: dict[str, dict[str, Behaviour]] = {
    # The article's experiment: variant-a really lifts checkout completion (10% -> 12%),
    # variant-b does nothing; errors stay at 1% (well inside the 2-point guardrail).
    "exp-checkout-flow-v3": {
        "checkout_completion_rate": Conversion(
            {"control": 0.100, "variant-a": 0.120, "variant-b": 0.100}
        ),
        "avg_session_duration": Duration(
            {"control": 300.0, "variant-a": 306.0, "variant-b": 300.0}
        ),
        "cart_abandonment_rate": Conversion(
            {"control": 0.30, "variant-a": 0.285, "variant-b": 0.30}
        ),
        "error_rate": Conversion({"control": 0.010, "variant-a": 0.010, "variant-b": 0.010}),
    },
    # The new ranker converts a little better but errors three times as often: the
    # guardrail (at most +0.5 points) breaks and the experiment is rolled back.
    "exp-search-ranking-v2": {
        "search_conversion": Conversion({"control": 0.20, "new-ranker": 0.21}),
        "search": Count({"control": 2.0, "new-ranker": 2.1}),
        "search_error_rate": Conversion({"control": 0.010, "new-ranker": 0.030}),
    },
    # A/A: both arms identical.
    "exp-homepage-copy-aa": {
        "signup": Conversion({"control": 0.05, "control-copy": 0.05}),
        "pages_per_visit": Count({"control": 3.0, "control-copy": 3.0}),
    },
}

_REGIONS = (("US", "EU", "APAC"), (0.90, 0.07, 0.03))
_ACCOUNTS = (("free", "pro"), (0.90, 0.10))
_PLATFORMS = (("web", "ios", "android"), (0.60, 0.25, 0.15))


@dataclass(frozen=True)
class Visitors:
    """One batch of visitors: ids, attributes and arrival times (epoch ms)."""

    ids: list[str]
    attributes: list[dict[str, Any]]
    arrivals: npt.NDArray[np.int64]


def visitors(day: int, count: int, start_ms: int, rng: np.random.Generator) -> Visitors:
    """`count` new visitors arriving over one day from `start_ms` (busier in the evening)."""
    regions = rng.choice(_REGIONS[0], count, p=_REGIONS[1]).tolist()
    accounts = rng.choice(_ACCOUNTS[0], count, p=_ACCOUNTS[1]).tolist()
    platforms = rng.choice(_PLATFORMS[0], count, p=_PLATFORMS[1]).tolist()
    internal = (rng.random(count) < 0.01).tolist()
    bots = (rng.random(count) < 0.02).tolist()
    attributes = [
        {"region": r, "accountType": a, "platform": p, "internal": i, "bot": b}
        for r, a, p, i, b in zip(regions, accounts, platforms, internal, bots, strict=True)
    ]
    # Arrival within the day: a mixture that peaks in the (UTC) evening.
    hours = np.where(
        rng.random(count) < 0.6, rng.normal(10.0, 3.0, count), rng.uniform(0, 24, count)
    )
    offsets = (np.clip(hours, 0.0, 23.99) * 3_600_000).astype(np.int64)
    ids = [f"d{day:02d}-u{i:06d}" for i in range(count)]
    return Visitors(ids, attributes, start_ms + np.sort(offsets))


def events_for(
    experiment_id: str,
    people: Visitors,
    service: ExperimentAssignmentService,
    rng: np.random.Generator,
    behaviour: Mapping[str, Behaviour],
) -> list[Event]:
    """Assign `people` in one experiment and return their exposure and metric events (and
    those of the holdout covering it, if one does)."""
    assignments = service.assign_many(experiment_id, people.ids, people.attributes)
    control = service.experiment(experiment_id).control
    chosen = [i for i, a in enumerate(assignments) if a.in_experiment or a.reason is Reason.HOLDOUT]
    if not chosen:
        return []
    variants = [assignments[i].variant or control for i in chosen]
    times = people.arrivals[chosen]
    events: list[Event] = []
    for k, i in enumerate(chosen):
        unit = people.ids[i]
        attrs = {"region": people.attributes[i]["region"],
                 "platform": people.attributes[i]["platform"]}  # fmt: skip
        a = assignments[i]
        if a.in_experiment:
            events.append(
                Event(f"{experiment_id}:x:{unit}", "exposure", experiment_id, variants[k], unit,
                      int(times[k]), attributes=attrs)
            )  # fmt: skip
        if a.holdout_id is not None and a.holdout_variant is not None:
            events.append(
                Event(f"{a.holdout_id}:x:{unit}", "exposure", a.holdout_id, a.holdout_variant,
                      unit, int(times[k]))
            )  # fmt: skip
    by_unit = {people.ids[i]: assignments[i] for i in chosen}
    analysed = {
        hid: {m.event_name for _, m in service.experiment(hid).metrics.all()}
        for hid in {a.holdout_id for a in by_unit.values() if a.holdout_id is not None}
    }
    for metric, model in behaviour.items():
        drawn = _metric_events(experiment_id, metric, model, people, chosen, variants, times, rng)
        events += _route(drawn, by_unit, analysed)
    return events


def _route(
    drawn: list[Event], by_unit: Mapping[str, Assignment], analysed: Mapping[str, set[str]]
) -> list[Event]:
    """Each metric event where the middleware's ``emit()`` records it: in the experiment for a
    unit in it, and in the holdout named by the unit's assignment (only there when held out)
    when the holdout analyses that metric (``analysed``: holdout id -> its metric events)."""
    out: list[Event] = []
    for event in drawn:
        a = by_unit[event.unit_id]
        if a.in_experiment:
            out.append(event)
        if (
            a.holdout_id is not None
            and a.holdout_variant is not None
            and event.metric in analysed.get(a.holdout_id, ())
        ):
            metric = event.metric or ""
            out.append(
                Event(f"{a.holdout_id}:{metric}:{event.unit_id}", "metric", a.holdout_id,
                      a.holdout_variant, event.unit_id, event.timestamp, metric=metric,
                      value=event.value)
            )  # fmt: skip
    return out


def _metric_events(
    experiment_id: str,
    metric: str,
    model: Behaviour,
    people: Visitors,
    chosen: Sequence[int],
    variants: Sequence[str],
    times: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> list[Event]:
    n = len(chosen)
    delays = rng.exponential(20 * 60_000, n).astype(np.int64) + 1_000
    out: list[Event] = []
    if isinstance(model, Conversion):
        p = np.array([model.rate[v] for v in variants])
        hits = np.flatnonzero(rng.random(n) < p)
        values = np.ones(n)
    elif isinstance(model, Duration):
        mean = np.array([model.mean[v] for v in variants])
        mu = np.log(mean) - model.sigma**2 / 2
        values = np.round(rng.lognormal(mu, model.sigma), 1)
        hits = np.arange(n)
    else:
        lam = np.array([model.rate[v] for v in variants])
        values = (1 + rng.poisson(np.maximum(lam - 1.0, 0.0))).astype(float)
        hits = np.arange(n)
    for k in hits.tolist():
        unit = people.ids[chosen[k]]
        out.append(
            Event(
                f"{experiment_id}:{metric}:{unit}", "metric", experiment_id, variants[k], unit,
                int(times[k] + delays[k]), metric=metric, value=float(values[k]),
            )
        )  # fmt: skip
    return out
