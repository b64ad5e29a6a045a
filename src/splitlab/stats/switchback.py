"""Switchback experiments: the Horvitz-Thompson estimator over cells, and a regression check.

A switchback randomises *cells*: every (unit, period) cell gets variant ``v`` with probability
``p_v`` (the normalised weight), independently of every other cell. Events in the first
``burnInSeconds`` of every period are left out, and the analysis assumes that what remains of
a period depends on that period's variant only: carry-over order ``m = 0`` within the kept
window, in the terms of Bojinov, Simchi-Levi & Zhao (2023, "Design and Analysis of Switchback
Experiments", Management Science 69(7):3759). The burn-in is what makes that assumption
plausible; it must be longer than the carry-over. docs/switchback.md states it for users.

**Horvitz-Thompson (primary).** With C cells in the window (all variants), Y_c the cell outcome
and W_c the cell's variant, the mean cell outcome under ``v`` is estimated by
``Yhat_v = (1/C) sum_c 1{W_c = v} Y_c / p_v`` and the effect of ``v`` against control ``0``
by ``tau = Yhat_v - Yhat_0``. Cells are independent, so
``Var(tau) = (1/C^2) sum_c [Y_c(v)^2 (1/p_v - 1) + Y_c(0)^2 (1/p_0 - 1) + 2 Y_c(v) Y_c(0)]``;
the last term is never observed (no cell is seen under both), and ``2ab <= a^2 + b^2`` bounds
it, giving the conservative ``(1/C^2) sum_c [Y_c(v)^2/p_v + Y_c(0)^2/p_0]``, whose unbiased
estimator is ``Vhat = (1/C^2) sum_c 1{W_c = v} Y_c^2/p_v^2 + 1{W_c = 0} Y_c^2/p_0^2``
(Bojinov et al. 2023, Theorems 2 and 3 with m = 0: each period is its own block; for
p = 1/2 their bound is ``(4/T^2) sum_t Y_t^2``, the same). The bound is exact when
``Y_c(v) = Y_c(0)`` for every cell (the sharp null), so the test keeps its level there, and
conservative otherwise. Both only need per-variant sums over cells (``n``, ``sum``, ``sumSq``):
the ordinary :class:`~splitlab.stats.sums.ArmSums`, with ``units[v]`` counting cells.

Ratio metrics: ``R_v = Yhat_v / Dhat_v`` (a ratio of HT totals; the ``p_v`` cancel, so it is
``sum Y / sum D`` over v's cells), linearised by the delta method:
``R_v - R ~ (1/Dtot) sum_c 1{W_c = v} (Y_c - R D_c)/p_v``, and the same bound gives
``Vhat(R_v) = sum_{c in v} (Y_c - R_v D_c)^2 / (sum_{c in v} D_c)^2``.

The test is a z test (the HT estimator is a sum of many independent cells; the normal
approximation needs many cells, and a warning says when there are few).

**Regression (secondary).** OLS with period fixed effects and unit-clustered standard errors
(:mod:`splitlab.stats.switchback_regression`), reported beside the HT result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats.difference import Difference, NotEstimable, two_sided_p
from splitlab.stats.sums import ArmSums, CrossSums, ExperimentSums, arm_pair, count
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.stats.switchback_regression import (
    FEW_UNITS,
    RegressionFit,
    fit_regression,
    regression_difference,
    regression_offered,
)

if TYPE_CHECKING:
    from splitlab.config.designs import SwitchbackDesign

Estimator = Literal["horvitz_thompson", "regression"]

#: Fewer cells than this in an arm: the normal approximation of the HT estimator is doubtful.
FEW_CELLS = 30


def horvitz_thompson(
    control: ArmSums,
    treatment: ArmSums,
    p_control: float,
    p_treatment: float,
    cells: float,
    ratio: bool = False,
) -> Difference | NotEstimable:
    """The HT difference of `treatment` against `control` from their sums over cells.

    `cells` is C, the window's cells in every variant; ``p_*`` the assignment probabilities.
    For a ratio metric the arms carry the denominator's sums.
    """
    for label, arm in (("control", control), ("the variant", treatment)):
        if arm.n < 2:
            return NotEstimable(f"{label} has {arm.n:g} cell(s); at least 2 per arm are needed")
    if ratio:
        views = [_ratio_moments(arm) for arm in (control, treatment)]
        if any(v is None for v in views):
            return NotEstimable("a ratio metric needs its denominator to sum above 0 in both arms")
        (mean_c, var_c), (mean_t, var_t) = (v for v in views if v is not None)
    else:
        mean_c = control.sum / (p_control * cells)
        mean_t = treatment.sum / (p_treatment * cells)
        var_c = control.sum_sq / (p_control * cells) ** 2
        var_t = treatment.sum_sq / (p_treatment * cells) ** 2
    estimate = mean_t - mean_c
    se = math.sqrt(var_c + var_t)
    if not all(map(math.isfinite, (estimate, se))):
        return NotEstimable("the values overflow double precision")
    if not se > 0:
        return NotEstimable("every cell's outcome is 0 in both arms, so there is no variance")
    statistic = estimate / se
    return Difference(
        estimate=estimate,
        se=se,
        df=math.inf,
        statistic=statistic,
        p_value=two_sided_p(statistic, math.inf),
        control_mean=mean_c,
        treatment_mean=mean_t,
        var_control_mean=var_c,
        # Cov(tau, Yhat_0) = Cov(Yhat_v, Yhat_0) - Var(Yhat_0); the first term (-sum Y(v)Y(0)
        # / C^2) is not observed and is left out, as in the classic test.
        cov_estimate_control=-var_c,
    )


def _ratio_moments(arm: ArmSums) -> tuple[float, float] | None:
    den = arm.denominator
    if den is None or not den.sum > 0:
        return None
    r = arm.sum / den.sum
    resid_sq = arm.sum_sq - 2.0 * r * den.sum_product + r * r * den.sum_sq
    return r, max(resid_sq, 0.0) / (den.sum * den.sum)


def cell_sums(experiment: Experiment, cells: SwitchbackCells) -> ExperimentSums:
    """The sums the engine reads: per variant, sums over its cells (``units[v]`` = cells).

    The table itself rides along when the regression applies (two or more units), so that it
    and a replay of the look can use it.
    """
    names = experiment.variant_names
    variants = cells.variant_array()
    metrics: dict[str, dict[str, ArmSums]] = {}
    for metric, column in cells.values.items():
        y = np.asarray(column, dtype=np.float64)
        d = cells.denominator(metric)
        arms: dict[str, ArmSums] = {}
        for v in names:
            mask = variants == v
            yv = y[mask]
            den = None
            if d is not None:
                dv = d[mask]
                den = CrossSums(float(dv.sum()), float(dv @ dv), float(yv @ dv))
            arms[v] = ArmSums(float(mask.sum()), float(yv.sum()), float(yv @ yv), None, den)
        metrics[metric] = arms
    return ExperimentSums(
        cells.counts(names),
        metrics,
        experiment.experiment_id,
        None,
        cells=cells if regression_offered(cells) else None,
    )


def _design(experiment: Experiment) -> SwitchbackDesign:
    design = experiment.design
    if design is None or design.type != "switchback":
        raise ValueError(f"experiment {experiment.id!r} is not a switchback")
    return design


def chosen_estimator(experiment: Experiment) -> Estimator:
    """The design's ``estimator`` (Horvitz-Thompson unless the definition asks otherwise)."""
    wanted = getattr(_design(experiment), "estimator", None)
    return "regression" if wanted == "regression" else "horvitz_thompson"


def estimate(
    experiment: Experiment,
    sums: ExperimentSums,
    metric: Metric,
    variant: str,
    cache: object,
) -> tuple[Difference | None, str | None, tuple[str, ...], tuple[float, float]]:
    """The ``analyze`` registry entry for ``design.type == "switchback"``."""
    control = experiment.control
    pair = arm_pair(sums, metric.name, control, variant)
    if isinstance(pair, str):
        return None, pair, (), (0.0, 0.0)
    c_arm, t_arm = pair
    units = (c_arm.n, t_arm.n)
    notes: list[str] = []
    if metric.cuped:
        notes.append("CUPED not applied: switchback cells have no pre-period covariate")
    ratio = metric.type is MetricType.RATIO
    cells = sums.cells
    fit: RegressionFit | NotEstimable | None = None
    if (
        cells is not None
        and regression_offered(cells)
        and not ratio
        and metric.name in cells.values
    ):
        fit = fit_regression(cells, metric.name, control, variant)
    if chosen_estimator(experiment) == "regression" and isinstance(fit, RegressionFit):
        result = regression_difference(fit)
    else:
        if chosen_estimator(experiment) == "regression":
            notes.append("the regression does not apply here; Horvitz-Thompson is used")
        weights = dict(zip(experiment.variant_names, experiment.weights, strict=True))
        total = float(sum(sums.units.values()))
        if ratio and (c_arm.denominator is None or t_arm.denominator is None):
            return None, "a ratio metric needs denominator sums in both arms", (), units
        result = horvitz_thompson(c_arm, t_arm, weights[control], weights[variant], total, ratio)
        if isinstance(fit, RegressionFit):
            notes.append(
                f"regression with period fixed effects (unit-clustered SE, {fit.units} units): "
                f"estimate {fit.estimate:.6g}, SE {fit.se:.6g}"
            )
    if isinstance(result, NotEstimable):
        return None, result.reason, tuple(notes), units
    return result, None, tuple(notes), units


@dataclass(frozen=True)
class SwitchbackDesignResult:
    """The ``design`` block of a switchback's results."""

    unit: str | None
    period_seconds: int
    burn_in_seconds: int
    cells: Mapping[str, float]
    units: int | None
    periods: int | None
    estimator: Estimator
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "switchback",
            "unit": self.unit,
            "periodSeconds": self.period_seconds,
            "burnInSeconds": self.burn_in_seconds,
            "cells": {k: count(v) for k, v in self.cells.items()},
            "units": self.units,
            "periods": self.periods,
            "estimator": self.estimator,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """One line for the terminal."""
        who = f"units of {self.unit}" if self.unit else "one global unit"
        arms = ", ".join(f"{v} {count(c)}" for v, c in self.cells.items())
        return (
            f"Design: switchback of {who}, {self.period_seconds} s periods, first "
            f"{self.burn_in_seconds} s of each left out; cells {arms}; estimator "
            f"{self.estimator.replace('_', '-')}"
        )


def design_result(experiment: Experiment, sums: ExperimentSums) -> SwitchbackDesignResult:
    """The design block, with the warnings that apply to this look."""
    design = _design(experiment)
    cells = sums.cells
    names = experiment.variant_names
    per_variant = {v: float(sums.units.get(v, 0.0)) for v in names}
    units: int | None = cells.unit_count if cells is not None else None
    periods: int | None = cells.periods if cells is not None else None
    if design.unit is None:
        units = 1
        periods = int(sum(per_variant.values()))
    warnings: list[str] = []
    estimator = chosen_estimator(experiment)
    if estimator == "regression" and not regression_offered(cells):
        estimator = "horvitz_thompson"
        warnings.append(
            "the regression estimator needs at least 2 units randomised in every period; "
            "Horvitz-Thompson is used"
        )
    if regression_offered(cells) and units is not None and units < FEW_UNITS:
        warnings.append(
            f"only {units} switchback units: the regression's unit-clustered standard errors "
            f"are unreliable below {FEW_UNITS} units (Cameron & Miller 2015); read it as a "
            "check, not as the test"
        )
    fewest = min(per_variant.values(), default=0.0)
    if fewest < FEW_CELLS:
        warnings.append(
            f"the smallest arm has {fewest:g} cells: the normal approximation of the "
            f"Horvitz-Thompson test needs many cells (at least {FEW_CELLS} per arm); "
            "run more periods"
        )
    return SwitchbackDesignResult(
        design.unit,
        design.period_seconds,
        design.burn_in_seconds,
        per_variant,
        units,
        periods,
        estimator,
        tuple(warnings),
    )
