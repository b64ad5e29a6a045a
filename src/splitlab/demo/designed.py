"""Simulated traffic of the demo's cluster and switchback experiments.

* ``exp-pricing-annual-plan`` (cluster design): every simulated day new **accounts** sign up,
  each with several users (1 + a Poisson count with a log-normal mean: most accounts have 2-5
  users, a few have dozens). The assignment service randomises the account (the
  ``accountId`` attribute is the experiment's ``hashKey``), so all users of an account get the
  same variant. Each user sends an exposure and, when they upgrade, an ``upgrade`` and a
  ``purchase`` event; every event carries ``clusterId`` = the account. Users of one account
  resemble each other (an account-level effect on the upgrade odds), which is why the
  analysis must work on account totals.
* ``exp-dispatch-batching`` (switchback design): 8 regions, hourly periods. Demand in a
  region follows an autocorrelated (AR(1)) path over the hours on top of a lunch and dinner
  rhythm; each (region, hour) cell runs the variant the switchback assignment gives it, and
  every order placed in the cell sends an exposure, an ``order`` event and its
  ``delivery_minutes`` (and a ``late_delivery`` event when it took over 45 minutes), with
  ``clusterId`` = the region; the metrics are ratios of cell totals (minutes per order, share
  of late orders), so a busy hour does not count as a slow one.
  Couriers dispatched in the previous hour are still on the road in the first minutes of a
  period, so orders placed then are delivered as the previous hour's variant would: the
  carry-over the design's burn-in leaves out.

Each event carries ``clusterId`` and goes through the collector's validation like every other
demo event. Randomness comes only from
the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.switchback import period_start_ms
from splitlab.config.designs import SwitchbackDesign
from splitlab.tracking.events import Event, EventType

HOUR_MS = 3_600_000

PRICING = "exp-pricing-annual-plan"
DISPATCH = "exp-dispatch-batching"

#: New accounts a day at scale 1 (about 4 users each).
ACCOUNTS_PER_DAY = 300
#: Upgrade rate of a typical account's user, and the price paid on upgrading, per variant:
#: the discount lifts upgrades (5% -> 6%) and lowers the price (120 -> 100), so revenue per
#: user stays about level (6.0 against 6.0) and the revenue guardrail holds.
UPGRADE_RATE = {"control": 0.050, "annual-discount": 0.060}
PRICE = {"control": 120.0, "annual-discount": 100.0}
#: Standard deviation of the account-level effect on the log-odds of upgrading.
ACCOUNT_SD = 0.8

#: The dispatch experiment's regions and their relative sizes.
REGIONS = ("ams", "ber", "cph", "dub", "lis", "mad", "par", "vie")
_REGION_SIZE = (1.2, 1.4, 0.7, 0.8, 0.9, 1.3, 1.6, 0.8)
#: Orders in an average cell (one region, one hour) at scale 1.
ORDERS_PER_CELL = 10.0
#: Delivery time: a base in minutes, times congestion, times the variant's effect.
BASE_MINUTES = 30.0
DISPATCH_EFFECT = {"control": 1.0, "batched": 0.92}
#: The first minutes of a period still deliver as the previous period's variant did.
CARRY_OVER_MS = 8 * 60_000
LATE_MINUTES = 45.0


def _event(event_id: str, kind: EventType, experiment_id: str, variant: str, unit: str,
           ts: int, cluster: str, **extra: Any) -> Event:  # fmt: skip
    """One event with its ``clusterId`` (encoded, the collector's wire shape)."""
    return Event(event_id, kind, experiment_id, variant, unit, ts, cluster_id=cluster, **extra)


def pricing_events(
    day: int,
    start_ms: int,
    scale: float,
    service: ExperimentAssignmentService,
    rng: np.random.Generator,
) -> list[Event]:
    """One day of new accounts and their users in the cluster experiment."""
    accounts = max(round(ACCOUNTS_PER_DAY * scale), 4)
    sizes = 1 + np.minimum(rng.poisson(rng.lognormal(np.log(2.5), 0.7, accounts)), 60)
    effects = rng.normal(0.0, ACCOUNT_SD, accounts)
    account_of = np.repeat(np.arange(accounts), sizes)
    n = len(account_of)
    account_ids = [f"acct-d{day:02d}-{a:05d}" for a in range(accounts)]
    units = [f"{account_ids[a]}-u{j}" for a, size in enumerate(sizes.tolist())
             for j in range(size)]  # fmt: skip
    plans = rng.choice(("free", "team"), accounts, p=(0.8, 0.2))
    internal = rng.random(accounts) < 0.01
    attributes = [
        {"accountId": account_ids[a], "plan": str(plans[a]), "internal": bool(internal[a])}
        for a in account_of.tolist()
    ]
    assignments = service.assign_many(PRICING, units, attributes)
    arrivals = start_ms + np.sort(rng.integers(0, 24 * HOUR_MS, n))
    upgrade_draw = rng.random(n)
    price_noise = rng.lognormal(0.0, 0.3, n)
    delays = rng.exponential(30 * 60_000, n).astype(np.int64) + 1_000
    events: list[Event] = []
    for i, a in enumerate(assignments):
        if not a.in_experiment or a.variant is None:
            continue
        variant, unit, account = a.variant, units[i], account_ids[int(account_of[i])]
        ts = int(arrivals[i])
        events.append(_event(f"{PRICING}:x:{unit}", "exposure", PRICING, variant, unit, ts,
                            account))  # fmt: skip
        odds = np.log(UPGRADE_RATE[variant] / (1 - UPGRADE_RATE[variant]))
        p = 1.0 / (1.0 + np.exp(-(odds + effects[account_of[i]])))
        if upgrade_draw[i] < p:
            at = ts + int(delays[i])
            value = round(float(PRICE[variant] * price_noise[i]), 2)
            events.append(_event(f"{PRICING}:upgrade:{unit}", "metric", PRICING, variant, unit,
                                at, account, metric="upgrade", value=1.0))  # fmt: skip
            events.append(_event(f"{PRICING}:purchase:{unit}", "metric", PRICING, variant, unit,
                                at, account, metric="purchase", value=value))  # fmt: skip
    return events


@dataclass(frozen=True)
class DispatchWorld:
    """Demand of every region in every hour of the demo: ``demand[region, hour]``."""

    start_ms: int
    demand: npt.NDArray[np.float64]


def dispatch_world(start_ms: int, days: int, rng: np.random.Generator) -> DispatchWorld:
    """Hourly demand per region: size x lunch/dinner rhythm x an AR(1) (phi 0.8) shock."""
    hours = days * 24
    shocks = rng.normal(0.0, 0.25, (len(REGIONS), hours))
    level = np.zeros_like(shocks)
    level[:, 0] = shocks[:, 0] / np.sqrt(1 - 0.8**2)
    for t in range(1, hours):
        level[:, t] = 0.8 * level[:, t - 1] + shocks[:, t]
    hour_of_day = (start_ms // HOUR_MS + np.arange(hours)) % 24 + 0.5
    rhythm = (
        0.25
        + 1.0 * np.exp(-(((hour_of_day - 12.5) / 1.5) ** 2))
        + 1.4 * np.exp(-(((hour_of_day - 19.0) / 1.8) ** 2))
    )
    size = np.array(_REGION_SIZE)[:, None]
    return DispatchWorld(start_ms, size * rhythm[None, :] * np.exp(level))


def cell_variants(
    service: ExperimentAssignmentService, periods: list[int]
) -> dict[tuple[str, int], str | None]:
    """The variant each (region, period) cell runs (None: the experiment serves none), from
    the assignment service at the start of the period."""
    design = service.experiment(DISPATCH).design
    assert isinstance(design, SwitchbackDesign)
    regions = [{"region": r} for r in REGIONS]
    cells: dict[tuple[str, int], str | None] = {}
    for k in periods:
        found = service.assign_many(DISPATCH, list(REGIONS), regions,
                                    at=period_start_ms(design, k))  # fmt: skip
        for region, a in zip(REGIONS, found, strict=True):
            cells[(region, k)] = a.variant if a.in_experiment else None
    return cells


def dispatch_events(
    day: int,
    world: DispatchWorld,
    scale: float,
    service: ExperimentAssignmentService,
    rng: np.random.Generator,
) -> list[Event]:
    """One day of orders in the switchback experiment, cell by cell."""
    first = world.start_ms // HOUR_MS + day * 24
    variants = cell_variants(service, list(range(first - 1, first + 24)))
    events: list[Event] = []
    mean_demand = float(world.demand.mean())
    for h in range(24):
        period = first + h
        for r, region in enumerate(REGIONS):
            variant = variants[(region, period)]
            demand = float(world.demand[r, day * 24 + h])
            orders = int(rng.poisson(ORDERS_PER_CELL * scale * demand / mean_demand))
            if variant is None or orders == 0:
                continue
            offsets = np.sort(rng.integers(0, HOUR_MS, orders))
            previous = variants[(region, period - 1)] or variant
            congestion = 1.0 + 0.15 * (demand / mean_demand - 1.0)
            noise = rng.lognormal(0.0, 0.25, orders)
            for j in range(orders):
                carried = offsets[j] < CARRY_OVER_MS
                effect = DISPATCH_EFFECT[previous if carried else variant]
                minutes = round(BASE_MINUTES * max(congestion, 0.5) * effect * noise[j], 1)
                unit = f"o-{day:02d}-{region}-{h:02d}-{j:04d}"
                ts = period * HOUR_MS + int(offsets[j])
                events.append(_event(f"{DISPATCH}:x:{unit}", "exposure", DISPATCH, variant, unit,
                                    ts, region))  # fmt: skip
                events.append(_event(f"{DISPATCH}:order:{unit}", "metric", DISPATCH, variant,
                                     unit, ts, region, metric="order", value=1.0))  # fmt: skip
                events.append(_event(f"{DISPATCH}:delivery:{unit}", "metric", DISPATCH, variant,
                                    unit, ts, region, metric="delivery_minutes",
                                    value=float(minutes)))  # fmt: skip
                if minutes > LATE_MINUTES:
                    events.append(_event(f"{DISPATCH}:late:{unit}", "metric", DISPATCH, variant,
                                        unit, ts, region, metric="late_delivery",
                                        value=1.0))  # fmt: skip
    return events
