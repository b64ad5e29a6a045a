"""One arm's sums seen as the moments an estimator needs (means, variances, covariances).

Every metric type is reduced to the same view: a point estimate of the arm's metric, the
per-unit variance of its (linearised) observations and, with CUPED, the covariate's mean,
variance and covariance with those observations. Sample variances use ``n - 1`` (Bessel),
except for a conversion rate, whose binomial variance ``p(1 - p)`` is a function of its mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.stats.sums import ArmSums, CrossSums


@dataclass(frozen=True, slots=True)
class ArmView:
    """An arm reduced to what the tests need.

    ``mean`` is the arm's metric (a mean, a rate, or a ratio of sums); ``var`` the per-unit
    variance of the observations whose average estimates it (for a ratio, the linearised
    observations ``(Y - R*D) / mean(D)`` of the delta method).
    """

    n: float
    mean: float
    var: float
    x_mean: float | None = None
    x_var: float | None = None
    xy_cov: float | None = None

    @property
    def var_of_mean(self) -> float:
        return self.var / self.n


def sample_var(n: float, total: float, total_sq: float) -> float:
    """Unbiased sample variance from n, sum and sum of squares (0 when n < 2)."""
    if n < 2:
        return 0.0
    return max(total_sq - total * (total / n), 0.0) / (n - 1)


def sample_cov(n: float, sum_a: float, sum_b: float, sum_ab: float) -> float:
    """Unbiased sample covariance from n, the two sums and the sum of products."""
    if n < 2:
        return 0.0
    return (sum_ab - sum_a * (sum_b / n)) / (n - 1)


def _with_covariate(view: ArmView, cov: CrossSums | None, xy_cov: float | None = None) -> ArmView:
    if cov is None or view.n < 2:
        return view
    n = view.n
    x_cov = sample_cov(n, cov.sum, view.mean * n, cov.sum_product) if xy_cov is None else xy_cov
    return ArmView(n, view.mean, view.var, cov.sum / n, sample_var(n, cov.sum, cov.sum_sq), x_cov)


def mean_view(arm: ArmSums, binary: bool, use_covariate: bool) -> ArmView:
    """A mean per unit (continuous) or a rate (conversion: ``sum`` is the converted units)."""
    n = arm.n
    if n <= 0:
        return ArmView(0.0, 0.0, 0.0)
    mean = arm.sum / n
    var = mean * (1.0 - mean) if binary else sample_var(n, arm.sum, arm.sum_sq)
    view = ArmView(n, mean, max(var, 0.0))
    return _with_covariate(view, arm.covariate) if use_covariate else view
