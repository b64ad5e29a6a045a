"""Spillover detection: randomise clusters between a cluster design and a classic design.

Saveski, Pouget-Abadie, Saint-Jacques, Duan, Ghosh, Xu and Airoldi 2017, "Detecting Network
Effects: Randomizing Over Randomized Experiments" (KDD). The clusters (communities of a graph,
accounts, ...) are first split at random between two designs: in one, whole clusters are
randomised (a cluster design); in the other, units are randomised one by one (a classic
experiment). Without interference both designs estimate the same average treatment effect,
so the difference of their two estimates has expectation zero. With spillover between
neighbours they part: in the classic design treated and control units have, on average, the
same share of treated neighbours, so the spillover lifts both arms alike and the estimate
misses it, while in the cluster design neighbours share a variant and the estimate carries
it; the difference shows it.

Three pieces, each usable alone:

* :func:`splitlab.assignment.spillover.spillover_design` (in the assignment layer, so an app
  computes it without loading numpy): the split, a pure function of the cluster id and a
  salt of its own, which the two experiments' targeting reads as an attribute;
* :func:`design_estimate`: one design's effect estimate, variance and degrees of freedom from
  its sufficient statistics;
* :func:`spillover_test`: the test of the difference. Its variance is the **sum** of the two
  designs' variance estimates, the conservative choice of Saveski et al. (the two estimates
  are independent given the split, and each design's variance estimate is conservative for
  its own design). docs/spillover.md describes the assumptions and the power to expect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import special

from splitlab.config import Experiment, MetricType
from splitlab.stats import cluster
from splitlab.stats.difference import NotEstimable, TestKind, compare
from splitlab.stats.errors import StatsError
from splitlab.stats.moments import mean_view
from splitlab.stats.ratio import ratio_view
from splitlab.stats.sums import ArmSums, ExperimentSums

__all__ = [
    "DesignEstimate",
    "SpilloverError",
    "SpilloverTest",
    "design_estimate",
    "spillover_test",
]


class SpilloverError(StatsError, ValueError):
    """Input the spillover test cannot use (the message names it)."""

    code = "invalid_spillover_input"


def _shown(value: Any) -> str:
    if value is None or isinstance(value, str | int | float | bool):
        return repr(value)
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class DesignEstimate:
    """One design's estimate of the treatment effect (variant minus control).

    ``variance`` is the estimate's variance (the squared standard error); ``df`` the degrees
    of freedom of its t reference distribution (infinite for a z test).
    """

    estimate: float
    variance: float
    df: float = math.inf


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpilloverError(f"{name}: expected a finite number (got {_shown(value)})")
    return float(value)


def _checked(name: str, design: DesignEstimate) -> DesignEstimate:
    if not isinstance(design, DesignEstimate):
        raise SpilloverError(f"{name}: expected a DesignEstimate (got {_shown(design)})")
    estimate = _finite(f"{name}.estimate", design.estimate)
    variance = _finite(f"{name}.variance", design.variance)
    if variance < 0:
        raise SpilloverError(f"{name}.variance: expected a number >= 0 (got {variance!r})")
    df = design.df
    if isinstance(df, bool) or not isinstance(df, int | float) or math.isnan(df) or not df > 0:
        raise SpilloverError(f"{name}.df: expected a number > 0 or inf (got {_shown(df)})")
    return DesignEstimate(estimate, variance, float(df))


@dataclass(frozen=True, slots=True)
class SpilloverTest:
    """The test of "no interference": does the cluster design's estimate differ from the
    individual design's?"""

    cluster: DesignEstimate
    individual: DesignEstimate
    #: cluster estimate minus individual estimate.
    difference: float
    #: The difference's variance: the sum of the two designs' variances (conservative).
    variance: float
    se: float
    #: difference / se: a z statistic when ``df`` is infinite, else a t statistic.
    statistic: float
    #: Welch-Satterthwaite degrees of freedom of the sum (infinite when both designs' are).
    df: float
    #: Two-sided p-value of the statistic (normal, or Student's t with ``df``).
    p_value: float
    #: A distribution-free upper bound on the p-value, ``min(1, 1/statistic^2)`` (Chebyshev's
    #: inequality; it holds whatever the estimates' distribution, given their variance).
    chebyshev_p_value: float
    alpha: float

    @property
    def detected(self) -> bool:
        """Whether the designs disagree at level alpha (``p_value <= alpha``)."""
        return self.p_value <= self.alpha

    @property
    def verdict(self) -> str:
        """One plain-English sentence."""
        found = (
            f"spillover detected: the cluster design's estimate ({self.cluster.estimate:.4g}) "
            f"differs from the individual design's ({self.individual.estimate:.4g}) by "
            f"{self.difference:.4g} (SE {self.se:.3g}, p = {self.p_value:.3g} <= {self.alpha:g}); "
            "the individually randomised estimate is biased by interference; report the "
            "cluster design's"
        )
        none = (
            f"no spillover detected: the two designs' estimates ({self.cluster.estimate:.4g} "
            f"and {self.individual.estimate:.4g}) differ by {self.difference:.4g} "
            f"(SE {self.se:.3g}, p = {self.p_value:.3g} > {self.alpha:g}); this is not proof of "
            "no interference: a small spillover needs many clusters to show"
        )
        return found if self.detected else none

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (camelCase); an infinite df is written as null."""

        def df(x: float) -> float | None:
            return None if math.isinf(x) else x

        def design(d: DesignEstimate) -> dict[str, Any]:
            return {"estimate": d.estimate, "variance": d.variance, "df": df(d.df)}

        return {
            "cluster": design(self.cluster),
            "individual": design(self.individual),
            "difference": self.difference,
            "variance": self.variance,
            "se": self.se,
            "statistic": self.statistic,
            "df": df(self.df),
            "pValue": self.p_value,
            "chebyshevPValue": self.chebyshev_p_value,
            "alpha": self.alpha,
            "detected": self.detected,
            "verdict": self.verdict,
        }


def _satterthwaite(a: DesignEstimate, b: DesignEstimate) -> float:
    """Degrees of freedom of a sum of two variance estimates (Satterthwaite 1946)."""
    terms = [d.variance * d.variance / d.df for d in (a, b) if math.isfinite(d.df)]
    den = sum(terms)
    if den <= 0:
        return math.inf
    total = a.variance + b.variance
    return total * total / den


def spillover_test(
    cluster: DesignEstimate, individual: DesignEstimate, alpha: float = 0.05
) -> SpilloverTest:
    """Test whether the cluster design's and the individual design's estimates differ.

    ``statistic = (cluster.estimate - individual.estimate) / sqrt(cluster.variance +
    individual.variance)``; its two-sided p-value is normal when both designs' ``df`` are
    infinite, else Student's t with the Welch-Satterthwaite df of the summed variances.
    """
    c = _checked("cluster", cluster)
    i = _checked("individual", individual)
    level = _finite("alpha", alpha)
    if not 0.0 < level < 1.0:
        raise SpilloverError(f"alpha: expected a number strictly between 0 and 1 (got {alpha!r})")
    variance = c.variance + i.variance
    if not variance > 0:
        raise SpilloverError(
            "cluster.variance + individual.variance: expected a positive total (got 0): "
            "with no variance there is nothing to test"
        )
    se = math.sqrt(variance)
    difference = c.estimate - i.estimate
    statistic = difference / se
    df = _satterthwaite(c, i)
    if math.isinf(df):
        p_value = float(2.0 * special.ndtr(-abs(statistic)))
    else:
        p_value = float(2.0 * special.stdtr(df, -abs(statistic)))
    chebyshev = 1.0 if statistic == 0 else min(1.0, 1.0 / (statistic * statistic))
    return SpilloverTest(c, i, difference, variance, se, statistic, df, p_value, chebyshev, level)


def design_estimate(
    experiment: Experiment,
    sums: ExperimentSums,
    metric: str,
    variant: str | None = None,
) -> DesignEstimate:
    """One design's effect estimate on `metric`, from its experiment's sufficient statistics.

    A cluster design (sums over clusters, ``denominator`` = the clusters' sizes or the ratio
    denominators' cluster totals): the cluster experiment's own estimate
    (:func:`splitlab.stats.cluster.estimate`: per-unit means ``sum Y_c / sum D_c``, the CR1
    cluster-robust variance, t with G - 1 df). A classic
    design: the metric's own test (Welch's for means and ratios, the unpooled Wald z for
    rates). Without CUPED or sequential adjustment, in both designs alike. `variant`
    defaults to the first variant that is not control.
    """
    try:
        _, m = experiment.metric(metric)
    except KeyError:
        known = ", ".join(n.name for _, n in experiment.metrics.all())
        raise SpilloverError(
            f"metric: expected a metric of {experiment.id!r} ({known}) (got {metric!r})"
        ) from None
    control = experiment.control
    treatments = [v for v in experiment.variant_names if v != control]
    chosen = treatments[0] if variant is None else variant
    if chosen not in treatments:
        raise SpilloverError(
            f"variant: expected one of {', '.join(map(repr, treatments))} (got {chosen!r})"
        )
    if m.type in (MetricType.RETENTION, MetricType.TIME_TO_EVENT):
        raise SpilloverError(
            f"metric {metric!r}: expected a conversion, continuous or ratio metric (got "
            f"{m.type.value!r}: a cluster design cannot analyse it, so the two designs have no "
            "common estimate)"
        )
    arms = sums.metrics.get(metric)
    if arms is None:
        raise SpilloverError(f"sums.metrics: expected data for metric {metric!r} (none found)")
    empty = ArmSums(0.0, 0.0, 0.0)
    c_arm, t_arm = arms.get(control, empty), arms.get(chosen, empty)
    kind: TestKind
    if experiment.is_cluster:
        if m.level == "cluster":
            raise SpilloverError(
                f"metric {metric!r}: expected a per-unit metric (level 'unit'); a per-cluster "
                "total has no counterpart in the individually randomised design"
            )
        for label, arm in ((control, c_arm), (chosen, t_arm)):
            if arm.denominator is None:
                raise SpilloverError(
                    f"sums.metrics.{metric}.{label}.denominator: expected the clusters' sizes "
                    "(contract of cluster sums) (missing)"
                )
        # The same estimator as the cluster experiment's own results (CR1, t with G - 1 df),
        # without CUPED so that both designs are estimated alike.
        diff, reason, _, _ = cluster.estimate(
            experiment, sums, m.model_copy(update={"cuped": False}), chosen, None
        )
        if diff is None:
            raise SpilloverError(f"{experiment.id}, metric {metric!r}: {reason}")
        return DesignEstimate(diff.estimate, diff.se * diff.se, diff.df)
    elif m.type == MetricType.RATIO:
        views = (ratio_view(c_arm, False), ratio_view(t_arm, False))
        kind = "welch"
        need = "the ratio's denominator sums"
    else:
        binary = m.type == MetricType.CONVERSION
        views = (mean_view(c_arm, binary, False), mean_view(t_arm, binary, False))
        kind = "proportions" if binary else "welch"
        need = ""
    if need:
        for label, arm in ((control, c_arm), (chosen, t_arm)):
            if arm.denominator is None:
                raise SpilloverError(
                    f"sums.metrics.{metric}.{label}.denominator: expected {need} (missing)"
                )
    result = compare(views[0], views[1], kind)
    if isinstance(result, NotEstimable):
        raise SpilloverError(f"{experiment.id}, metric {metric!r}: {result.reason}")
    return DesignEstimate(result.estimate, result.se * result.se, result.df)
