"""Ratio metrics (sum of numerators / sum of denominators) by the delta method.

For an arm with per-unit numerator Y and denominator D, the metric is R = mean(Y) / mean(D).
The delta method (a first-order Taylor expansion; Deng, Knoblich and Lu 2018, "Applying the
Delta Method in Metric Analytics", KDD) gives

    Var(R) ~= (s_YY - 2 R s_YD + R^2 s_DD) / (n * mean(D)^2),

which is the variance of the mean of the linearised observations L = (Y - R D) / mean(D).
The covariance of Y and D (``denominator.sumProduct``) is included, not dropped. For CUPED on a
ratio metric, Cov(L, X) = (s_XY - R s_XD) / mean(D) needs the covariate's sum of products with
the denominator (``covariate.sumProductDenominator``); without it CUPED is not applied.
"""

from __future__ import annotations

from splitlab.stats.moments import ArmView, sample_cov, sample_var
from splitlab.stats.sums import ArmSums


def ratio_view(arm: ArmSums, use_covariate: bool) -> ArmView:
    """The arm's ratio and the per-unit variance of its linearised observations."""
    den = arm.denominator
    n = arm.n
    if den is None or n <= 0 or den.sum == 0:
        return ArmView(n if n > 0 else 0.0, 0.0, 0.0)
    d_mean = den.sum / n
    ratio = arm.sum / den.sum
    s_yy = sample_var(n, arm.sum, arm.sum_sq)
    s_dd = sample_var(n, den.sum, den.sum_sq)
    s_yd = sample_cov(n, arm.sum, den.sum, den.sum_product)
    var = max(s_yy - 2.0 * ratio * s_yd + ratio * ratio * s_dd, 0.0) / d_mean / d_mean
    view = ArmView(n, ratio, var)
    cov = arm.covariate
    if not use_covariate or cov is None or cov.sum_product_denominator is None or n < 2:
        return view
    s_xy = sample_cov(n, cov.sum, arm.sum, cov.sum_product)
    s_xd = sample_cov(n, cov.sum, den.sum, cov.sum_product_denominator)
    return ArmView(
        n,
        ratio,
        var,
        cov.sum / n,
        sample_var(n, cov.sum, cov.sum_sq),
        (s_xy - ratio * s_xd) / d_mean,
    )


def ratio_cuped_possible(arm: ArmSums) -> bool:
    """Whether the sums carry what CUPED on a ratio metric needs."""
    cov = arm.covariate
    return cov is not None and cov.sum_product_denominator is not None
