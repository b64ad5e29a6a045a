"""The absolute difference between a variant and control, and its test.

* Means and ratios: Welch's t-test. SE = sqrt(s_t^2/n_t + s_c^2/n_c) (unpooled) and the
  Welch-Satterthwaite degrees of freedom
  ``df = (v_t + v_c)^2 / (v_t^2/(n_t - 1) + v_c^2/(n_c - 1))`` with ``v = s^2/n``
  (Welch 1947; Satterthwaite 1946). The p-value comes from Student's t with that df, not from
  the normal distribution (the article's defect 10).
* Conversion rates: the two-proportion Wald z-test, with the unpooled SE
  ``sqrt(p_t(1 - p_t)/n_t + p_c(1 - p_c)/n_c)`` for the test and the interval alike (as
  statsmodels' ``test_proportions_2indep(method="wald")`` and
  ``confint_proportions_2indep(method="wald")``), so the test rejects exactly when the interval
  excludes 0. When both rates are 0 or 1 the unpooled SE is 0 and the pooled SE
  ``sqrt(p(1 - p)(1/n_c + 1/n_t))`` is used for both instead (with a note).
* ``frequentist_z_test`` uses the normal distribution for every metric (large samples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import special

from splitlab.stats import cuped
from splitlab.stats.moments import ArmView

TestKind = Literal["welch", "z", "proportions"]


@dataclass(frozen=True, slots=True)
class Difference:
    """Treatment minus control, with what the intervals and the relative effect need."""

    estimate: float
    se: float
    df: float
    statistic: float
    p_value: float
    control_mean: float
    treatment_mean: float
    var_control_mean: float
    cov_estimate_control: float
    theta: float | None = None
    notes: tuple[str, ...] = ()
    #: Whether the arms' means and units are plain conversion rates and counts, so that the
    #: Bayesian option may use its Beta-binomial model; False for a weighted combination of
    #: strata (:mod:`splitlab.stats.versions`), which takes the normal model.
    single_stratum: bool = True

    @property
    def z_equivalent(self) -> float:
        """|z| with the same two-sided p-value (for boundaries set on the z scale)."""
        if math.isinf(self.df):
            return abs(self.statistic)
        return float(-special.ndtri(self.p_value / 2.0)) if self.p_value < 1 else 0.0

    def critical(self, two_sided_level: float) -> float:
        """Critical value of this test's distribution for a two-sided level."""
        if math.isinf(self.df):
            return float(-special.ndtri(two_sided_level / 2.0))
        return float(-special.stdtrit(self.df, two_sided_level / 2.0))

    def critical_for_z(self, boundary: float) -> float:
        """Critical value of this test's distribution matching a boundary on the z scale.

        For a z test it is the boundary itself; for Welch's t it is the t quantile at the
        boundary's nominal two-sided level ``2 Phi(-c)``, so ``|t| >= critical`` exactly when
        the z-equivalent of t reaches the boundary. Infinite when that level underflows.
        """
        if math.isinf(self.df):
            return boundary
        nominal = 2.0 * float(special.ndtr(-boundary))
        return self.critical(nominal) if nominal > 0 else math.inf


@dataclass(frozen=True, slots=True)
class NotEstimable:
    """A comparison that cannot be made, with the reason in plain English."""

    reason: str


def welch_df(v_c: float, n_c: float, v_t: float, n_t: float) -> float:
    """Welch-Satterthwaite degrees of freedom from the variances of the two means."""
    scale = max(v_c, v_t)
    if not scale > 0:
        return n_c + n_t - 2
    v_c, v_t = v_c / scale, v_t / scale  # df is scale-free; this keeps the squares finite
    den = v_c * v_c / (n_c - 1) + v_t * v_t / (n_t - 1)
    total = v_c + v_t
    return total * total / den


def two_sided_p(statistic: float, df: float) -> float:
    if math.isinf(df):
        return float(2.0 * special.ndtr(-abs(statistic)))
    return float(2.0 * special.stdtr(df, -abs(statistic)))


@dataclass(frozen=True, slots=True)
class AdjustedArms:
    """Both arms' means and per-unit variances after CUPED (or as they are, without it)."""

    mean_c: float
    var_c: float
    cov_raw_c: float  # covariance of control's adjusted and raw observations
    mean_t: float
    var_t: float
    theta: float | None
    notes: tuple[str, ...]


def too_few(control: ArmView, treatment: ArmView, noun: str) -> NotEstimable | None:
    """Refuse a comparison with fewer than two observations (`noun`s) in an arm."""
    for label, arm in (("control", control), ("the variant", treatment)):
        if arm.n < 2:
            return NotEstimable(f"{label} has {arm.n:g} {noun}(s); at least 2 per arm are needed")
    return None


def adjusted_arms(control: ArmView, treatment: ArmView, use_cuped: bool) -> AdjustedArms:
    """The arms after CUPED with a pooled theta (:mod:`cuped`), or unadjusted."""
    theta = cuped.pooled_theta(control, treatment) if use_cuped else None
    if theta is None:
        notes = ("CUPED not applied: the covariate has no variance",) if use_cuped else ()
        return AdjustedArms(
            control.mean, control.var, control.var, treatment.mean, treatment.var, None, notes
        )
    center = cuped.pooled_x_mean(control, treatment)
    adj_c = cuped.adjust(control, theta, center)
    adj_t = cuped.adjust(treatment, theta, center)
    return AdjustedArms(adj_c.mean, adj_c.var, adj_c.cov_with_raw, adj_t.mean, adj_t.var, theta, ())


def overflowed(
    se: float, estimate: float, control: ArmView, treatment: ArmView
) -> NotEstimable | None:
    """Refuse results that left double precision."""
    if all(map(math.isfinite, (se, estimate, control.mean, treatment.mean))):
        return None
    return NotEstimable(
        "the values overflow double precision (too large, or a ratio "
        "whose denominator is too close to zero)"
    )


def compare(
    control: ArmView,
    treatment: ArmView,
    kind: TestKind,
    use_cuped: bool = False,
    *,
    noun: str = "unit",
) -> Difference | NotEstimable:
    """Compare a treatment arm with control.

    `noun` names what an arm's n counts in the not-estimable reason ("cluster" when each
    observation is a cluster's value).
    """
    refused = too_few(control, treatment, noun)
    if refused is not None:
        return refused
    arms = adjusted_arms(control, treatment, use_cuped)
    theta, cov_raw_c, notes = arms.theta, arms.cov_raw_c, list(arms.notes)
    v_c, v_t = arms.var_c / control.n, arms.var_t / treatment.n
    se = math.sqrt(v_c + v_t)
    estimate = arms.mean_t - arms.mean_c
    overflow = overflowed(se, estimate, control, treatment)
    if overflow is not None:
        return overflow
    if kind == "proportions" and theta is None:
        if not se > 0:
            total = control.n + treatment.n
            pooled = (control.mean * control.n + treatment.mean * treatment.n) / total
            se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / control.n + 1.0 / treatment.n))
            if not se > 0:
                which = "no unit converted" if pooled <= 0 else "every unit converted"
                return NotEstimable(f"{which} in either arm, so the rates have no variance")
            notes.append(
                "both rates are 0% or 100%, so the pooled SE is used for test and interval"
            )
        df = math.inf
        statistic = estimate / se
    else:
        if se <= 0 or not math.isfinite(se):
            return NotEstimable("the metric has no variance in either arm (all values equal)")
        df = math.inf if kind != "welch" else welch_df(v_c, control.n, v_t, treatment.n)
        statistic = estimate / se
    return Difference(
        estimate=estimate,
        se=se,
        df=df,
        statistic=statistic,
        p_value=two_sided_p(statistic, df),
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        var_control_mean=control.var / control.n,
        cov_estimate_control=-cov_raw_c / control.n,
        theta=theta,
        notes=tuple(notes),
    )
