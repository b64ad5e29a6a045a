"""Simulated traffic of the demo's canary release and bandit, and the loops that drive them.

* ``exp-orders-db-migration`` (canary): the orders service moves its reads to a new database
  cluster. Users send requests (a Poisson number per user and minute, from a fixed pool of
  users); each request of a user in the experiment sends its latency (``latency_ms``) and an
  error flag (``request_error``, 1 or 0). Latency is log-normal with a median of 45 ms on
  both clusters, and errors are 0.2 % on both, until the new cluster carries a quarter of the
  users: its connection pool then saturates and 4 % of its requests wait about 350 ms more,
  which leaves the median and the error rate alone but moves p99 from about 100 ms to over
  400 ms. The canary monitor (run every 5 simulated minutes) passes the 1 % and 5 % steps and
  rolls the release back during the 25 % step, naming p99.
* ``exp-onboarding-bandit`` (bandit): new users arrive every hour; the assignment service
  (with the weights of the latest update) gives each one of four onboarding checklists, and
  a user who finishes setup does so within 24 hours (the reward's window). The versions'
  true completion rates differ (:data:`SETUP_RATE`); the bandit updater runs every 6
  simulated hours and moves the weights towards ``progress-bar``.

Each loop moves one clock (the monitor's or the updater's), sends the events that happened
before it through the collector's validation, and runs the real component at that moment,
so every step, rollback and weight update is recorded at its simulated time. Randomness
comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking.events import Event

CANARY = "exp-orders-db-migration"
BANDIT = "exp-onboarding-bandit"

MINUTE_MS = 60_000

#: Requests a minute from all users (only those of users in the experiment are measured: at
#: a 1 % step, 2 % of users, the canary's and the baseline's). Not scaled with the demo's
#: ``--scale``: the ramp's story needs this much traffic to pass its first steps within an
#: hour, and it is a small share of the demo's events.
REQUESTS_PER_MINUTE = 8_000
#: The pool of users sending requests.
CANARY_USERS = 50_000
#: Latency: log-normal, median and log-sd; errors per request.
LATENCY_MEDIAN_MS = 45.0
LATENCY_SIGMA = 0.35
ERROR_RATE = 0.002
#: From this canary share on, the new cluster's pool saturates: this share of its requests
#: wait about ``SLOW_MS`` more.
SATURATION_SHARE = 0.25
SLOW_SHARE = 0.04
SLOW_MS = 350.0

#: New users an hour in the bandit (not scaled: each new unit of a bandit is kept in the
#: server's sticky store, one write each), and each version's true setup completion.
BANDIT_USERS_PER_HOUR = 30
SETUP_RATE = {"control": 0.20, "short-list": 0.22, "video-first": 0.18, "progress-bar": 0.27}
#: A completing user finishes setup this long after the first exposure (hours, exponential
#: mean; cut at the 24-hour window).
SETUP_DELAY_HOURS = 4.0


@dataclass
class CanaryTraffic:
    """The canary's users and what has been sent for them (exposures once per user)."""

    users: list[str]
    exposed: set[str] = field(default_factory=set)
    requests: int = 0


def canary_traffic() -> CanaryTraffic:
    return CanaryTraffic([f"orders-u{i:06d}" for i in range(CANARY_USERS)])


def canary_events(
    traffic: CanaryTraffic,
    start_ms: int,
    minutes: int,
    service: ExperimentAssignmentService,
    rng: np.random.Generator,
) -> list[Event]:
    """`minutes` of requests from `start_ms`, from the users the service puts in the canary
    experiment now (the step's share of users in each arm)."""
    found = service.assign_many(CANARY, traffic.users)
    inside = [(u, a.variant) for u, a in zip(traffic.users, found, strict=True)
              if a.in_experiment and a.variant is not None]  # fmt: skip
    if not inside:
        return []
    canary_share = sum(1 for _, v in inside if v == "canary") / len(traffic.users)
    saturated = canary_share >= SATURATION_SHARE * 0.98  # the hash gives about the step's share
    per_user = REQUESTS_PER_MINUTE * minutes / len(traffic.users)
    counts = rng.poisson(per_user, len(inside))
    n = int(counts.sum())
    who = np.repeat(np.arange(len(inside)), counts)
    at = start_ms + np.sort(rng.integers(0, minutes * MINUTE_MS, n))
    rng.shuffle(who)
    latency = rng.lognormal(np.log(LATENCY_MEDIAN_MS), LATENCY_SIGMA, n)
    slow = rng.random(n) < SLOW_SHARE
    extra = rng.lognormal(np.log(SLOW_MS), 0.3, n)
    errors = rng.random(n) < ERROR_RATE
    events: list[Event] = []
    for k in range(n):
        unit, variant = inside[int(who[k])]
        ts = int(at[k])
        if unit not in traffic.exposed:
            traffic.exposed.add(unit)
            events.append(Event(f"{CANARY}:x:{unit}", "exposure", CANARY, variant, unit, ts))
        ms = latency[k] + (extra[k] if saturated and variant == "canary" and slow[k] else 0.0)
        request = traffic.requests + k
        events.append(Event(f"{CANARY}:lat:{request}", "metric", CANARY, variant, unit, ts,
                            metric="latency_ms", value=round(float(ms), 2)))  # fmt: skip
        events.append(Event(f"{CANARY}:err:{request}", "metric", CANARY, variant, unit, ts,
                            metric="request_error", value=1.0 if errors[k] else 0.0))  # fmt: skip
    traffic.requests += n
    return events


def bandit_events(
    hour: int,
    start_ms: int,
    end_ms: int,
    service: ExperimentAssignmentService,
    rng: np.random.Generator,
) -> list[Event]:
    """One hour of new users from `start_ms`: exposures with the current weights, and the
    setup completions that happen before `end_ms` (the demo's present)."""
    count = max(int(rng.poisson(BANDIT_USERS_PER_HOUR)), 1)
    units = [f"onb-h{hour:04d}-{i:05d}" for i in range(count)]
    arrivals = start_ms + np.sort(rng.integers(0, 60 * MINUTE_MS, count))
    found = service.assign_many(BANDIT, units)
    done = rng.random(count)
    delay = rng.exponential(SETUP_DELAY_HOURS * 60 * MINUTE_MS, count).astype(np.int64) + 1_000
    events: list[Event] = []
    for i, a in enumerate(found):
        if not a.in_experiment or a.variant is None:
            continue
        unit, ts = units[i], int(arrivals[i])
        events.append(Event(f"{BANDIT}:x:{unit}", "exposure", BANDIT, a.variant, unit, ts))
        finished = ts + int(delay[i])
        if done[i] < SETUP_RATE[a.variant] and finished - ts < 24 * 60 * MINUTE_MS \
                and finished < end_ms:  # fmt: skip
            events.append(Event(f"{BANDIT}:setup:{unit}", "metric", BANDIT, a.variant, unit,
                                finished, metric="setup_completed", value=1.0))  # fmt: skip
    return events


@dataclass
class Drive:
    """What a drive loop needs from the demo: a clock to move, a way to send events (and wait
    until the store has them), the server's current assignment service, and a refresh."""

    set_clock: Callable[[datetime], None]
    send: Callable[[list[Event]], int]
    service: Callable[[], ExperimentAssignmentService]
    refresh: Callable[[], object]
    running: Callable[[str], bool]


def drive_canary(
    drive: Drive,
    run_once: Callable[[], Sequence[Any]],
    start: datetime,
    end: datetime,
    interval_minutes: int,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """From `start` to `end`: every interval, the interval's requests, then the monitor at
    its end; stops when the canary is no longer running. Returns (events, monitor runs)."""
    traffic = canary_traffic()
    events = runs = 0
    at = start
    while at < end and drive.running(CANARY):
        start_ms = int(at.timestamp() * 1000)
        events += drive.send(canary_events(traffic, start_ms, interval_minutes,
                                           drive.service(), rng))  # fmt: skip
        at += timedelta(minutes=interval_minutes)
        drive.set_clock(at)
        run_once()
        runs += 1
        drive.refresh()
    return events, runs


def drive_bandit(
    drive: Drive,
    run_once: Callable[[], Sequence[Any]],
    start: datetime,
    end: datetime,
    update_minutes: int,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """From `start` to `end`, hour by hour: the hour's new users with the weights in force,
    and the updater at every update time. Returns (events, updater runs)."""
    end_ms = int(end.timestamp() * 1000)
    events = runs = 0
    hour = 0
    next_update = start + timedelta(minutes=update_minutes)
    at = start
    while at < end:
        events += drive.send(bandit_events(hour, int(at.timestamp() * 1000), end_ms,
                                           drive.service(), rng))  # fmt: skip
        at += timedelta(hours=1)
        hour += 1
        while next_update <= at:
            drive.set_clock(next_update)
            run_once()
            runs += 1
            drive.refresh()
            next_update += timedelta(minutes=update_minutes)
    return events, runs
