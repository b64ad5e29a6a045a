"""The secondary switchback estimator: a regression with period fixed effects.

OLS of the cell outcome on a treatment indicator and period fixed
effects (``y ~ treated + C(period)``, over the control and variant cells) with standard errors
clustered by unit, the approach DoorDash describes for region switchbacks (Kastelman &
Ramesh 2018, "Switchback Tests and Randomized Experimentation under Network Effects at
DoorDash"). Computed by the Frisch-Waugh-Lovell theorem: demean ``treated`` and ``y`` within
each period, ``beta = sum d~ y~ / sum d~^2``; the cluster-robust variance is
``c sum_g (sum_{i in g} d~_i e_i)^2 / (sum d~^2)^2`` with statsmodels' CR1 factor
``c = G/(G - 1) (N - 1)/(N - K)``, K = periods + 1 (Cameron & Miller 2015, "A Practitioner's
Guide to Cluster-Robust Inference", J. Human Resources 50:317), and the test uses Student's
t with G - 1 degrees of freedom. It needs at least two units randomised in every period (with
one unit the period effects absorb everything) and is reported beside the HT result; with few
units (fewer than :data:`FEW_UNITS`) its standard errors are unreliable and a warning says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from splitlab.stats.difference import Difference, NotEstimable, two_sided_p
from splitlab.stats.switchback_cells import FloatArray, IntArray, SwitchbackCells

#: Fewer units than this: the regression's cluster-robust standard errors (CR1 with
#: t(G - 1)) over-reject noticeably (Cameron & Miller 2015, section VI: "few" clusters is
#: below 20 to 50), so its result comes with a warning.
FEW_UNITS = 20


@dataclass(frozen=True, slots=True)
class RegressionFit:
    """The treatment coefficient of ``y ~ treated + C(period)`` with unit-clustered SEs."""

    estimate: float
    se: float
    df: float
    units: int
    cells: int
    control_mean: float
    var_control_mean: float
    cov_estimate_control: float


def period_regression(
    y: FloatArray, treated: FloatArray, period: IntArray, unit: IntArray
) -> RegressionFit | NotEstimable:
    """OLS ``y ~ treated + C(period)`` with CR1 standard errors clustered by `unit` (numpy).

    `treated` is 1 for the variant's cells and 0 for control's; the cells of other variants
    must be left out by the caller.
    """
    n = y.size
    _, p_code = np.unique(period, return_inverse=True)
    _, g_code = np.unique(unit, return_inverse=True)
    n_periods, n_units = int(p_code.max()) + 1 if n else 0, int(g_code.max()) + 1 if n else 0
    k = n_periods + 1  # intercept, treated, and n_periods - 1 period dummies
    if n_units < 2:
        return NotEstimable("the regression needs at least 2 units randomised in each period")
    if n <= k:
        return NotEstimable(f"the regression has {n} cells for {k} parameters")
    per_count = np.bincount(p_code, minlength=n_periods).astype(np.float64)
    d_dm = treated - (np.bincount(p_code, treated, n_periods) / per_count)[p_code]
    y_dm = y - (np.bincount(p_code, y, n_periods) / per_count)[p_code]
    sxx = float(d_dm @ d_dm)
    if not sxx > 1e-12 * n:
        return NotEstimable("no period has both control and variant cells")
    beta = float(d_dm @ y_dm) / sxx
    resid = y_dm - beta * d_dm
    score = np.bincount(g_code, d_dm * resid, n_units) / sxx
    control = treated == 0
    n_c = float(control.sum())
    if n_c < 1:
        return NotEstimable("control has no cells")
    mean_c = float(y[control].mean())
    ctrl_score = np.bincount(g_code[control], y[control] - mean_c, n_units) / n_c
    factor = n_units / (n_units - 1) * (n - 1) / (n - k)
    var = factor * float(score @ score)
    se = math.sqrt(var)
    return RegressionFit(
        estimate=beta,
        se=se,
        df=float(n_units - 1),
        units=n_units,
        cells=n,
        control_mean=mean_c,
        var_control_mean=factor * float(ctrl_score @ ctrl_score),
        cov_estimate_control=factor * float(score @ ctrl_score),
    )


def regression_difference(fit: RegressionFit) -> Difference | NotEstimable:
    """A :class:`RegressionFit` as the engine's :class:`Difference` (t with G - 1 df)."""
    if not fit.se > 0 or not math.isfinite(fit.se):
        return NotEstimable("the regression's residuals have no variance")
    statistic = fit.estimate / fit.se
    return Difference(
        estimate=fit.estimate,
        se=fit.se,
        df=fit.df,
        statistic=statistic,
        p_value=two_sided_p(statistic, fit.df),
        control_mean=fit.control_mean,
        treatment_mean=fit.control_mean + fit.estimate,
        var_control_mean=fit.var_control_mean,
        cov_estimate_control=fit.cov_estimate_control,
    )


def regression_offered(cells: SwitchbackCells | None) -> bool:
    """Whether the regression applies: at least two units randomised in every period.

    The window is a full grid (every unit has a cell in every period), so that is two units.
    """
    return cells is not None and cells.unit_count >= 2 and cells.periods >= 1


def fit_regression(
    cells: SwitchbackCells, metric: str, control: str, variant: str
) -> RegressionFit | NotEstimable:
    """:func:`period_regression` on the control and `variant` cells of `metric`."""
    variants = cells.variant_array()
    keep = (variants == control) | (variants == variant)
    return period_regression(
        cells.outcome(metric)[keep],
        (variants[keep] == variant).astype(np.float64),
        cells.period_index()[keep],
        cells.unit_index()[keep],
    )
