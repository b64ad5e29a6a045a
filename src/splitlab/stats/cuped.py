"""CUPED: variance reduction with a pre-exposure covariate (Deng, Xu, Kohavi, Walker 2013).

With a covariate X measured before exposure (so independent of the treatment), the adjusted
observation is ``Y - theta * (X - mean(X))``. Its mean has the same expectation as Y's, and
its variance is smallest at ``theta = Cov(X, Y) / Var(X)``, where it is ``Var(Y) (1 - rho^2)``.
theta is estimated once per comparison, pooled across the two arms (within-arm covariances
weighted by their degrees of freedom), so both arms are adjusted by the same amount and the
difference stays unbiased. For a ratio metric Y is the delta method's linearised observation.
When the covariate has no variance, CUPED is skipped and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.stats.moments import ArmView


@dataclass(frozen=True, slots=True)
class AdjustedArm:
    """One arm after CUPED: adjusted mean, per-unit variance and covariance with raw Y."""

    mean: float
    var: float
    cov_with_raw: float


def pooled_theta(control: ArmView, treatment: ArmView) -> float | None:
    """theta = pooled Cov(X, Y) / pooled Var(X); None when the covariate has no variance."""
    arms = (control, treatment)
    if any(a.x_var is None or a.xy_cov is None or a.n < 2 for a in arms):
        return None
    den = sum((a.n - 1) * (a.x_var or 0.0) for a in arms)
    if den <= 0:
        return None
    return sum((a.n - 1) * (a.xy_cov or 0.0) for a in arms) / den


def adjust(arm: ArmView, theta: float, x_center: float) -> AdjustedArm:
    """The arm's CUPED-adjusted mean and the variance of its adjusted observations."""
    x_var = arm.x_var or 0.0
    xy = arm.xy_cov or 0.0
    var = arm.var - 2.0 * theta * xy + theta * theta * x_var
    return AdjustedArm(
        arm.mean - theta * ((arm.x_mean or 0.0) - x_center),
        max(var, 0.0),
        arm.var - theta * xy,
    )


def pooled_x_mean(control: ArmView, treatment: ArmView) -> float:
    total = control.n + treatment.n
    return ((control.x_mean or 0.0) * control.n + (treatment.x_mean or 0.0) * treatment.n) / total
