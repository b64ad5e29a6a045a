"""The proportion and mean kinds of a canary metric: a difference of ratio-metric means.

An arm's metric is ``m = sum Y / sum N`` over the step, with the delta-method variance over
units (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics", KDD), ``Y``
a unit's sum of values and ``N`` its number of events over the whole step (the store's step
totals; the units are the independent observations, so a user's alike requests in different
intervals are not taken as independent)

    Var(m) = (s_YY - 2 m s_YN + m^2 s_NN) / (U Nbar^2),   Nbar = sum N / U,

which with one event per unit is the sample variance over n (Welch's standard error).
For a proportion, the variance is at least the binomial variance of the "plus one" rate
``(x + 1) / (n + 2)`` (Agresti & Caffo 2000 add one success and one failure to each arm), so
that 0 errors in 10,000 requests is evidence, not a zero variance.

Effects: absolute ``m_c - m_b`` with variance ``V_c + V_b``. Relative: the interval is built
on the log ratio ``L = ln(m_c / m_b)`` with the delta-method variance ``V_c / m_c^2 +
V_b / m_b^2`` (Casella & Berger, Statistical Inference, 5.5.4; the arms are independent) and
reported as ``expm1`` of its bounds; the tolerance ``t`` is compared as ``ln(1 + t)``. The log
scale matters: at low rates the ratio itself is skewed, and an interval on the ratio scale
passed a canary exactly at a 20 % relative tolerance on a 0.2 % error rate in 13 % of runs
at a per-metric level of 5 % (bench/canary_relative_check.py); on the log scale 0.2 %. For a
proportion the log ratio uses the "plus one" rates (so that an arm without errors yet has a
finite log); they differ from the raw rates by less than one event in ``n``.

Every function here takes numpy arrays (one entry per simulated run, or 0-d for one canary),
so the simulations run the same code as :func:`splitlab.stats.canary.judge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from splitlab.stats.intervals import IntervalArm

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ArmArrays:
    """An arm's summed :class:`IntervalArm` fields as arrays (one entry per run)."""

    units: FloatArray
    n: FloatArray
    n_sq: FloatArray
    sum: FloatArray
    sum_sq: FloatArray
    sum_product: FloatArray
    event_sum_sq: FloatArray

    @classmethod
    def of(cls, arm: IntervalArm) -> ArmArrays:
        return cls(
            *(
                np.asarray(float(v))
                for v in (
                    arm.units,
                    arm.n,
                    arm.n_sq,
                    arm.sum,
                    arm.sum_sq,
                    arm.sum_product,
                    arm.event_sum_sq,
                )
            )
        )

    @classmethod
    def per_request(cls, n: FloatArray, total: FloatArray, total_sq: FloatArray) -> ArmArrays:
        """One event per unit: ``units = n``, ``N_u = 1``."""
        return cls(n, n, n, total, total_sq, total, total_sq)


def arm_mean_variance(arm: ArmArrays, proportion: bool) -> tuple[FloatArray, FloatArray]:
    """The arm's mean ``sum / n`` and the variance of that mean (NaN without 2 units)."""
    u, n = arm.units, arm.n
    ok = (u >= 2) & (n > 0)
    us = np.where(ok, u, 2.0)
    ns = np.where(ok, n, 1.0)
    m = arm.sum / ns
    s_yy = (arm.sum_sq - arm.sum * arm.sum / us) / (us - 1.0)
    s_nn = (arm.n_sq - ns * ns / us) / (us - 1.0)
    s_yn = (arm.sum_product - arm.sum * ns / us) / (us - 1.0)
    var = np.maximum(s_yy - 2.0 * m * s_yn + m * m * s_nn, 0.0) * us / (ns * ns)
    if proportion:
        plus_one = (arm.sum + 1.0) / (ns + 2.0)
        var = np.maximum(var, plus_one * (1.0 - plus_one) / ns)
    return np.where(ok, m, np.nan), np.where(ok, var, np.nan)


def effect(
    baseline: ArmArrays, canary: ArmArrays, proportion: bool, relative: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(estimate, variance, baseline mean, canary mean) on the WORKING scale: the difference,
    or for a relative effect the log ratio (map bounds back with :func:`reported`, compare
    with :func:`working_tolerance`); NaN where not estimable."""
    m_b, v_b = arm_mean_variance(baseline, proportion)
    m_c, v_c = arm_mean_variance(canary, proportion)
    if not relative:
        return m_c - m_b, v_c + v_b, m_b, m_c
    if proportion:
        a_b = (baseline.sum + 1.0) / (baseline.n + 2.0)
        a_c = (canary.sum + 1.0) / (canary.n + 2.0)
    else:
        a_b, a_c = m_b, m_c
    ok = (a_b > 0) & (a_c > 0)
    sb, sc = np.where(ok, a_b, 1.0), np.where(ok, a_c, 1.0)
    log_ratio = np.log(sc / sb)
    var = v_c / (sc * sc) + v_b / (sb * sb)
    return np.where(ok, log_ratio, np.nan), np.where(ok, var, np.nan), m_b, m_c


def working_tolerance(tolerance: float, relative: bool) -> float:
    """The tolerance on the scale of :func:`effect`: ``ln(1 + t)`` for a relative one."""
    return math.log1p(tolerance) if relative else tolerance


def reported(x: FloatArray, relative: bool) -> FloatArray:
    """An estimate or bound of :func:`effect` on the reported scale (``expm1`` if relative)."""
    return np.expm1(x) if relative else x


def problem(arm: IntervalArm, role: str, proportion: bool) -> str | None:
    """Why an arm cannot be judged yet (None: it can)."""
    if arm.n <= 0:
        return f"no events in the {role} arm yet"
    if arm.units < 2:
        return f"fewer than 2 units in the {role} arm"
    if proportion:
        mean = arm.sum / arm.n
        if not 0.0 <= mean <= 1.0 or abs(arm.event_sum_sq - arm.sum) > 1e-9 * max(arm.n, 1):
            return (
                f"the {role} arm's values are not all 0 or 1 (a proportion's events carry "
                "0 or 1, e.g. an error flag)"
            )
    return None
