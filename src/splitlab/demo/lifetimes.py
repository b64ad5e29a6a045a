"""Simulated traffic of the demo's retention and time-to-event experiment,
``exp-welcome-offer``: a first-order voucher for new visitors.

Every exposed visitor (the classic experiments' visitors, assigned by the server's own
assignment service) may place a first ``order`` some hours after the first visit: the hours
are exponential with a mean per variant (:data:`ORDER_MEAN_HOURS`: the voucher brings orders
forward). The visitor also comes back on some of the following days: on day ``d`` after the
first visit, with the chance :func:`return_chance` (a decaying habit, a little stronger with
the voucher), as one ``visit`` event somewhere in that day. An event that would happen after
the end of the simulated timeline is not sent (it has not happened yet), so the last days'
units are still in their windows at the demo's looks.

Randomness comes only from the ``numpy.random.Generator`` passed in (the demo gives this
experiment a stream of its own, so the other experiments' traffic is unchanged by it).
"""

from __future__ import annotations

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.demo.traffic import Visitors
from splitlab.tracking.events import Event

WELCOME = "exp-welcome-offer"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

#: Mean hours from the first visit to the first order: with these, 30% of control and 38% of
#: the voucher's units order within the metric's 72-hour horizon.
ORDER_MEAN_HOURS = {"control": 200.0, "voucher": 150.0}
#: Return visits are simulated on days 0 .. RETURN_DAYS - 1 after the first visit.
RETURN_DAYS = 9
#: The chance of a visit on day d: ``start * exp(-d / 4) + floor`` per variant.
_HABIT = {"control": (0.35, 0.15), "voucher": (0.40, 0.18)}


def return_chance(variant: str, day: int) -> float:
    """The chance a unit of `variant` visits on day `day` after its first visit (day 7:
    21.1% in control, 25.0% with the voucher)."""
    start, floor = _HABIT[variant]
    return start * float(np.exp(-day / 4.0)) + floor


def welcome_events(
    people: Visitors, service: ExperimentAssignmentService, end_ms: int, rng: np.random.Generator
) -> list[Event]:
    """The exposures, first orders and return visits of `people` in the welcome-offer
    experiment, up to `end_ms` (epoch ms, exclusive)."""
    assignments = service.assign_many(WELCOME, people.ids, people.attributes)
    chosen = [i for i, a in enumerate(assignments) if a.in_experiment and a.variant]
    n = len(chosen)
    if not n:
        return []
    variants = [str(assignments[i].variant) for i in chosen]
    t0 = people.arrivals[chosen]
    order_ms = t0 + (rng.exponential(1.0, n) * [ORDER_MEAN_HOURS[v] * HOUR_MS for v in variants])
    chance = np.array([[return_chance(v, d) for d in range(RETURN_DAYS)] for v in variants])
    returns = rng.random((n, RETURN_DAYS)) < chance
    within = rng.uniform(0.02, 0.98, (n, RETURN_DAYS)) * DAY_MS
    events: list[Event] = []
    for k, i in enumerate(chosen):
        unit, variant, start = people.ids[i], variants[k], int(t0[k])
        events.append(Event(f"{WELCOME}:x:{unit}", "exposure", WELCOME, variant, unit, start))
        at = int(order_ms[k])
        if at < end_ms:
            events.append(Event(f"{WELCOME}:order:{unit}", "metric", WELCOME, variant, unit, at,
                                metric="order", value=1.0))  # fmt: skip
        for day in np.flatnonzero(returns[k]).tolist():
            at = start + day * DAY_MS + int(within[k, day])
            if at < end_ms:
                events.append(Event(f"{WELCOME}:visit{day}:{unit}", "metric", WELCOME, variant,
                                    unit, at, metric="visit", value=1.0))  # fmt: skip
    return events
