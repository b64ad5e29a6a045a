"""Kaplan-Meier estimate, its Greenwood variance and the restricted mean survival time (RMST)
of an arm's :class:`~splitlab.stats.survival_table.SurvivalTable` (docs/statistics.md,
"Retention and time to event").

Conventions (the same as lifelines' ``KaplanMeierFitter`` and R's ``survival``):

* At a time with both events and censorings, the events come first: the units censored at
  ``t`` are still at risk at ``t``. ``at_risk`` at ``t_j`` is the number of units whose
  duration is ``>= t_j``.
* ``S(t)`` is right-continuous: ``survival[j]`` is the estimate just after ``t_j``,
  ``S(t_j) = prod_{i <= j} (1 - d_i / n_i)``; before the first time it is 1.
* Greenwood's variance (Greenwood 1926; Klein & Moeschberger 2003, eq. 4.2.2):
  ``Var S(t_j) = S(t_j)^2 * sum_{i <= j} d_i / (n_i (n_i - d_i))``. When ``d_i = n_i`` (the
  last units at risk all have the event) ``S`` drops to 0 and the variance is 0 from there on
  (lifelines does the same).
* RMST up to ``tau``: ``mu(tau) = integral_0^tau S(t) dt`` of the step curve. Beyond the last
  time of the table ``S`` stays at its last value (flat extrapolation, as lifelines'
  ``restricted_mean_survival_time``); when that last value is above 0 the area beyond the
  longest follow-up is an extrapolation, which :func:`follow_up_short` reports so callers can
  refuse it.
* Its variance (Klein & Moeschberger 2003, eq. 4.5.2; Royston & Parmar 2013, BMC Med Res
  Methodol 13:152): ``Var mu(tau) = sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j))`` with
  ``A_j = integral_{t_j}^tau S(t) dt``. A term with ``n_j = d_j`` is infinite in the formula
  times ``A_j`` — but ``S`` is 0 after such a ``t_j``, so ``A_j = 0`` always and the term is
  dropped (0), as R's survRM2 does. The variance is therefore always finite; it is the
  variance of the estimator, not the variance of the capped durations that lifelines'
  ``return_variance=True`` returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splitlab.stats.survival_table import SurvivalTable


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan-Meier estimate at each time of a survival table."""

    #: Durations (hours), sorted and distinct: every time of the table (events or censorings).
    times: tuple[float, ...]
    #: Units still at risk at each time (duration >= the time).
    at_risk: tuple[float, ...]
    #: Units with their event at each time.
    events: tuple[float, ...]
    #: S(t) just after each time.
    survival: tuple[float, ...]
    #: Greenwood's variance of S(t) at each time.
    variance: tuple[float, ...]


@dataclass(frozen=True)
class Rmst:
    """Restricted mean survival time up to a horizon and the variance of that estimator."""

    estimate: float
    variance: float


def _columns(table: SurvivalTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(times, at risk, events, S just after each time) as arrays."""
    times = np.asarray(table.times, dtype=float)
    events = np.asarray(table.events, dtype=float)
    left = np.cumsum(events + np.asarray(table.censored, dtype=float))
    # Units at risk at t_j: all units minus those whose duration ended before t_j (counts
    # are whole numbers, exact in floating point).
    at_risk = table.units - np.concatenate(([0.0], left[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(events >= at_risk, 0.0, 1.0 - events / at_risk)
    # No event: the factor is exactly 1 (and 0/0 at an empty row is never taken).
    factor = np.where(events > 0, factor, 1.0)
    return times, at_risk, events, np.cumprod(factor)


def _greenwood_terms(at_risk: np.ndarray, events: np.ndarray) -> np.ndarray:
    """``d / (n (n - d))`` at each time; 0 where ``n = d`` (S is 0 from there on)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = events / (at_risk * (at_risk - events))
    return np.where((events > 0) & (at_risk > events), terms, 0.0)


def kaplan_meier(table: SurvivalTable) -> KaplanMeier:
    """Kaplan-Meier and Greenwood at every time of ``table`` (empty table: empty tuples)."""
    if not table.times:
        return KaplanMeier((), (), (), (), ())
    _, at_risk, events, surv = _columns(table)
    greenwood = np.cumsum(_greenwood_terms(at_risk, events))
    variance = np.where(surv > 0, surv * surv * greenwood, 0.0)
    return KaplanMeier(
        table.times,
        tuple(at_risk.tolist()),
        table.events,
        tuple(surv.tolist()),
        tuple(variance.tolist()),
    )


def _check_tau(tau: float) -> None:
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"RMST horizon: expected a finite number of hours > 0, got {tau!r}")


def rmst(table: SurvivalTable, tau: float) -> Rmst:
    """RMST up to ``tau`` hours and its Greenwood-type variance (see the module's notes).

    An empty table has no estimate: ``ValueError``.
    """
    _check_tau(tau)
    if table.units <= 0:
        raise ValueError("RMST of an empty survival table: no units")
    times, at_risk, events, surv = _columns(table)
    # The steps of the curve: event times <= tau, with S just after each.
    step = (events > 0) & (times <= tau)
    t, n, d, s = times[step], at_risk[step], events[step], surv[step]
    if t.size == 0:
        return Rmst(tau, 0.0)
    # Slice j: S = s_j from t_j to the next step (or tau); A_j = the area from t_j to tau.
    widths = np.diff(np.append(t, tau))
    area_after = np.cumsum((s * widths)[::-1])[::-1]
    # n == d: S is 0 after t_j, so A_j == 0 and the term is dropped (see the module's notes).
    variance = float(np.sum(area_after**2 * _greenwood_terms(n, d)))
    return Rmst(float(t[0] + area_after[0]), variance)


def follow_up_short(table: SurvivalTable, tau: float) -> bool:
    """True when the curve up to ``tau`` is partly extrapolated: the longest duration of the
    table is below ``tau`` and the survival there is still above 0 (nobody was followed up to
    the horizon, so the area beyond the longest follow-up assumes no more events)."""
    if not table.times:
        return True
    if table.times[-1] >= tau:
        return False
    return kaplan_meier(table).survival[-1] > 0


def km_curve(table: SurvivalTable, tau: float, max_points: int = 200) -> list[tuple[float, float]]:
    """(hours, S) points of the Kaplan-Meier step curve from 0 up to ``tau`` for drawing.

    The first point is ``(0, 1)`` (or ``(0, S(0))`` when events happen at 0); then one point
    per event time below ``tau`` with S just after it; the last point is at ``tau`` or at the
    longest duration of the table when that is shorter (the curve is not drawn past the
    follow-up). Each point's S holds until the next point's time (a step "post" curve). Past
    ``max_points`` (>= 2) the points are thinned to evenly spaced ranks, keeping the first and
    the last. An empty table gives no points.
    """
    _check_tau(tau)
    if max_points < 2:
        raise ValueError(f"km_curve: max_points expected >= 2, got {max_points}")
    if not table.times or table.units <= 0:
        return []
    times, _, events, surv = _columns(table)
    end = min(tau, float(times[-1]))
    step = (events > 0) & (times <= end)
    xs = np.concatenate(([0.0], times[step]))
    ys = np.concatenate(([1.0], surv[step]))
    if xs.size > 1 and xs[1] == 0.0:
        xs, ys = xs[1:], ys[1:]  # events at 0: the curve starts at S(0)
    if xs[-1] < end:
        xs, ys = np.append(xs, end), np.append(ys, ys[-1])
    if xs.size > max_points:
        last = xs.size - 1
        picks = sorted({round(i * last / (max_points - 1)) for i in range(max_points)})
        xs, ys = xs[picks], ys[picks]
    return list(zip(xs.tolist(), ys.tolist(), strict=True))
