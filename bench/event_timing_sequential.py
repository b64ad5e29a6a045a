"""False-positive rate of sequential looks at retention and time-to-event metrics (A/A).

The information fraction of a look is the smallest arm's *exposed* units over minSampleSize
(:func:`splitlab.stats.analyze.information_fraction`), for every metric. A retention rate is
over *eligible* units, which lag the exposed ones by the window (``day + days`` days), and an
RMST's information also grows as the follow-up of units already in matures, so the alpha-
spending boundaries assume correlations between looks that these statistics do not have.
This script measures what that does to the false-positive rate, beside the nominal alpha:

* Retention: exact (no simulation). A rate over eligible units is a mean of independent
  Bernoulli units, so its z statistics are a Brownian motion in the eligible units; the
  chance that any look crosses the boundaries computed from the exposed fractions is
  :func:`splitlab.stats.sequential.crossing_probability` at the eligible fractions.
* Time to event: simulated A/A experiments, the RMST z (:func:`splitlab.stats.survival.rmst`)
  at each look against the same boundaries as ``analyze`` (``make_plan`` with the earlier
  looks' fractions), and the mSPRT's running-minimum always-valid p-value.

Design: 4 looks, equally spaced over 14 days of uniform entry, minSampleSize = the final
units per arm, alpha 5 % two-sided.

    .venv/bin/python bench/event_timing_sequential.py [--runs 2000] [--seed 5]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from splitlab.stats import msprt, sequential
from splitlab.stats.sequential import Spending
from splitlab.stats.survival import rmst
from splitlab.stats.survival_table import SurvivalTable
from splitlab.stats.time_to_event_metric import thin_tail

ALPHA = 0.05
DAYS = 14.0
LOOKS = (3.5, 7.0, 10.5, 14.0)  # days
SPENDINGS: tuple[Spending, ...] = ("obrien_fleming", "pocock")


def _bounds(spending: Spending) -> list[float | None]:
    fractions = [d / DAYS for d in LOOKS]
    return [
        sequential.boundary(
            ALPHA,
            spending,
            sequential.make_plan(k, len(LOOKS), fractions[k - 1], tuple(fractions[: k - 1])),
            2,
        )
        for k in range(1, len(LOOKS) + 1)
    ]


def retention() -> None:
    print("retention (exact): false-positive rate of alpha spending, nominal 5 %")
    for window_days in (2, 8):  # day-1 retention, day-7 retention
        eligible = [max(d - window_days, 0.0) for d in LOOKS]
        row = []
        for spending in SPENDINGS:
            pairs = [(c, e) for c, e in zip(_bounds(spending), eligible, strict=True) if e > 0]
            tested = [(c, e / eligible[-1]) for c, e in pairs if c is not None]
            rate = sequential.crossing_probability(
                tuple(c for c, _ in tested), tuple(f for _, f in tested), 2
            )
            row.append(f"{spending} {100 * rate:.2f} %")
        fractions = ", ".join(f"{e / eligible[-1]:.2f}" for e in eligible)
        print(f"  window closes {window_days:g} d after entry (eligible fractions {fractions}):")
        print("    " + "; ".join(row))


def _table(t: np.ndarray, seen: np.ndarray) -> SurvivalTable:
    times, inv = np.unique(t, return_inverse=True)
    events = np.bincount(inv, weights=seen, minlength=times.size)
    censored = np.bincount(inv, weights=~seen, minlength=times.size)
    return SurvivalTable(tuple(times.tolist()), tuple(events.tolist()), tuple(censored.tolist()))


def time_to_event(runs: int, seed: int, n: int = 400, tau: float = 72.0) -> None:
    rng = np.random.default_rng(seed)
    bounds = {s: _bounds(s) for s in SPENDINGS}
    mix = msprt.default_tau(ALPHA, 0.8, n)
    hits = dict.fromkeys(SPENDINGS, 0)
    always_valid = 0
    zs = np.zeros((runs, len(LOOKS)))
    for r in range(runs):
        entry = rng.uniform(0.0, DAYS * 24.0, (2, n))
        event = rng.exponential(48.0, (2, n))
        best_p = 1.0
        for k, day in enumerate(LOOKS):
            cut = day * 24.0
            est, var, units = [], [], []
            for arm in range(2):
                inside = entry[arm] < cut
                limit = np.minimum(cut - entry[arm][inside], tau)
                e = event[arm][inside]
                fit = rmst(_table(np.round(np.minimum(e, limit), 1), e <= limit), tau)
                est.append(fit.estimate)
                var.append(fit.variance)
                units.append(float(inside.sum()))
            v = var[0] + var[1]
            zs[r, k] = (est[1] - est[0]) / math.sqrt(v)
            tau2 = msprt.mixing_variance(mix, v, units[0], units[1])
            best_p = min(best_p, msprt.p_value(est[1] - est[0], v, tau2))
        for s in SPENDINGS:
            if any(c is not None and abs(z) >= c for z, c in zip(zs[r], bounds[s], strict=True)):
                hits[s] += 1
        always_valid += best_p <= ALPHA
    mc = 100 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    print(
        f"time to event (simulated, {runs:,} A/A runs, {n} units per arm, exponential mean 48 h,"
        f" tau {tau:g} h; Monte Carlo SE {mc:.2f} points): nominal 5 %"
    )
    for s in SPENDINGS:
        print(f"  alpha spending {s}: {100 * hits[s] / runs:.2f} %")
    print(f"  always valid (mSPRT): {100 * always_valid / runs:.2f} %")
    per_look = ", ".join(f"{100 * x:.2f} %" for x in (np.abs(zs) >= 1.959964).mean(axis=0))
    print(f"  each look alone at 1.96: {per_look}")
    corr = np.corrcoef(zs.T)
    fr = [d / DAYS for d in LOOKS]
    pairs = [(i, j) for i in range(len(LOOKS)) for j in range(i + 1, len(LOOKS))]
    got = ", ".join(f"{corr[i, j]:.2f}" for i, j in pairs)
    assumed = ", ".join(f"{math.sqrt(fr[i] / fr[j]):.2f}" for i, j in pairs)
    print(f"  corr(z_i, z_j) measured: {got}")
    print(f"  assumed by the boundaries: {assumed}")


def thin_tails(runs: int, seed: int, n: int = 100, tau: float = 72.0) -> None:
    """One look at the end of a week of entry, 100 units per arm: the z-test's rejection rate
    when an arm gets the thin-tail note (fewer than 10 units followed for the whole horizon)
    and when none does."""
    rng = np.random.default_rng(seed)
    hits = {True: 0, False: 0}
    count = {True: 0, False: 0}
    for _ in range(runs):
        fits, thin = [], False
        for _arm in range(2):
            limit = np.minimum(168.0 - rng.uniform(0.0, 168.0, n), tau)
            e = rng.exponential(48.0, n)
            table = _table(np.round(np.minimum(e, limit), 1), e <= limit)
            thin = thin or thin_tail("arm", table, tau) is not None
            fits.append(rmst(table, tau))
        z = (fits[1].estimate - fits[0].estimate) / math.sqrt(fits[0].variance + fits[1].variance)
        count[thin] += 1
        hits[thin] += abs(z) >= 1.959964
    print(f"time to event, one look, {n} units per arm entering over 168 h ({runs:,} A/A runs):")
    for thin in (True, False):
        k = max(count[thin], 1)
        rate = hits[thin] / k
        se = math.sqrt(ALPHA * (1 - ALPHA) / k)
        label = "with the thin-tail note" if thin else "without it"
        print(f"  {label}: {100 * rate:.2f} % of {count[thin]:,} (Monte Carlo SE {100 * se:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    retention()
    time_to_event(args.runs, args.seed)
    thin_tails(args.runs, args.seed)


if __name__ == "__main__":
    main()
