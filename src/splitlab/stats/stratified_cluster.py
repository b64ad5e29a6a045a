"""The analysis that matches an allocation table: strata (or matched sets) of clusters.

With few clusters, an analysis that ignores the strata the randomisation balanced over
throws away the precision the design bought. The input is one :class:`ArmSums` over
clusters per stratum and arm (the cluster-sums shape: ``n`` = clusters, ``sum`` = Σ Y_c,
``sumSq`` = Σ Y_c², ``denominator`` = (Σ D_c, Σ D_c², Σ Y_c D_c)), where Y_c is the
cluster's total and D_c its analysis units (or ratio denominator).

Per stratum k and arm a, the arm's estimate is
  * ``level="cluster"``: the mean of the cluster totals, ``m_ak = Σ Y_c / G_ak``, with
    variance ``s²_ak / G_ak`` (s² the sample variance of Y_c);
  * ``level="unit"``: the ratio of totals ``R_ak = Σ Y_c / Σ D_c`` (a per-unit mean or rate),
    with the delta-method variance ``Σ (Y_c - R_ak D_c)² / ((G_ak - 1) G_ak D̄²)``, D̄ the
    mean of D_c (Donner & Klar 2000, "Design and Analysis of Cluster Randomization Trials in
    Health Research", ch. 6, the ratio estimator of a cluster-level mean).

**Stratified** tables: ``effect = Σ_k W_k (est_tk - est_ck)`` with ``Var = Σ_k W_k²
(v_tk + v_ck)``, the stratified (Neyman) estimator and its within-stratum variance
(Imbens & Rubin 2015, "Causal Inference for Statistics, Social, and Biomedical Sciences",
ch. 9, eqs. 9.3-9.4). ``W_k`` is the stratum's share of clusters (cluster level) or of
analysis units Σ D (unit level), counted over both arms. A stratum needs two clusters in each
arm for its variance; strata with fewer are left out (and named), and so (at unit level, in
both table kinds) is a stratum where an arm's Σ D_c is zero, e.g. a tenant with no orders yet
under a ratio metric: like a missing arm, it carries no estimate. Intervals use Student's t
with ``G - 2K`` degrees of freedom (clusters minus the 2K stratum-arm means).

**Pair-matched** tables (one cluster per arm in each of m matched sets): per set
``d_j = est_tj - est_cj``; ``effect = Σ_j w_j d_j`` and
``Var = m / (m - 1) Σ_j (w_j d_j - effect / m)²`` with ``w_j`` the set's share of analysis
units (unit level) or ``1/m`` (cluster level), the estimator and variance of Imai, King &
Nall (2009), "The essential role of pair matching in cluster-randomized experiments",
Statistical Science 24(1), eqs. 3 and 6. With equal weights the variance is the classic
paired-difference ``s_d² / m``. Intervals use t with ``m - 1`` degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from scipy import stats as sps

from splitlab.stats.errors import StatsError
from splitlab.stats.moments import sample_var
from splitlab.stats.sums import ArmSums

__all__ = ["StratifiedDifference", "stratified_cluster_difference"]

Level = Literal["unit", "cluster"]


@dataclass(frozen=True, slots=True)
class StratifiedDifference:
    """The stratified (or paired) difference treatment - control, with its interval."""

    method: Literal["stratified", "pair_matched"]
    estimate: float
    standard_error: float
    df: float
    lower: float
    upper: float
    p_value: float
    #: The stratified control mean (Σ W_k est_ck); the relative effect is estimate / it.
    control_mean: float
    strata_used: int
    #: Strata (or matched sets) left out: an arm missing or with Σ D_c = 0 (unit level), or
    #: too few clusters for a variance.
    strata_dropped: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Arm:
    estimate: float
    var: float  # variance of the estimate
    size: float  # clusters (cluster level) or Σ D (unit level): the weight basis
    clusters: float


def _arm(arm: ArmSums, level: Level, where: str) -> _Arm:
    g = arm.n
    if level == "cluster":
        mean = arm.sum / g
        return _Arm(mean, sample_var(g, arm.sum, arm.sum_sq) / g if g >= 2 else math.nan, g, g)
    den = arm.denominator
    if den is None:
        raise StatsError(
            f"{where}: expected cluster sums with a denominator (Σ D_c, Σ D_c², Σ Y_c D_c) "
            "for a per-unit metric"
        )
    if den.sum <= 0:
        raise StatsError(f"{where}: expected a positive Σ D_c (got {den.sum})")
    r = arm.sum / den.sum
    if g < 2:
        return _Arm(r, math.nan, den.sum, g)
    residual_ss = max(arm.sum_sq - 2.0 * r * den.sum_product + r * r * den.sum_sq, 0.0)
    d_bar = den.sum / g
    return _Arm(r, residual_ss / ((g - 1.0) * g * d_bar * d_bar), den.sum, g)


def stratified_cluster_difference(
    strata: Mapping[str, Mapping[str, ArmSums]],
    control: str,
    variant: str,
    *,
    level: Level = "unit",
    paired: bool = False,
    alpha: float = 0.05,
) -> StratifiedDifference:
    """The difference ``variant - control`` combining strata of clusters (see the module).

    `strata` maps a stratum (or matched-set) label to per-arm sums over its clusters.
    Raises :class:`StatsError` when no stratum (or fewer than two matched sets) can be used.
    """
    used: list[tuple[_Arm, _Arm]] = []
    dropped: list[str] = []
    for label in sorted(strata):
        arms = strata[label]
        c, t = arms.get(control), arms.get(variant)
        if c is None or t is None or c.n < 1 or t.n < 1:
            dropped.append(label)
            continue
        if level == "unit" and any(
            arm.denominator is not None and arm.denominator.sum <= 0 for arm in (c, t)
        ):
            # No denominator yet in an arm (e.g. a tenant with no orders): like a missing arm.
            dropped.append(label)
            continue
        where = f"stratum {label!r}"
        ca, ta = _arm(c, level, f"{where}, {control}"), _arm(t, level, f"{where}, {variant}")
        if not paired and (math.isnan(ca.var) or math.isnan(ta.var)):
            dropped.append(label)
            continue
        used.append((ca, ta))
    if paired:
        return _paired(used, tuple(dropped), level, alpha)
    return _stratified(used, tuple(dropped), alpha)


def _finish(
    method: Literal["stratified", "pair_matched"],
    effect: float,
    var: float,
    df: float,
    control_mean: float,
    used: int,
    dropped: tuple[str, ...],
    alpha: float,
) -> StratifiedDifference:
    se = math.sqrt(max(var, 0.0))
    t_crit = float(sps.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * sps.t.sf(abs(effect / se), df)) if se > 0 else (1.0 if effect == 0 else 0.0)
    return StratifiedDifference(
        method, effect, se, df, effect - t_crit * se, effect + t_crit * se, p, control_mean,
        used, dropped,
    )  # fmt: skip


def _stratified(
    used: list[tuple[_Arm, _Arm]], dropped: tuple[str, ...], alpha: float
) -> StratifiedDifference:
    if not used:
        raise StatsError(
            "no stratum has two or more clusters in both arms, so no within-stratum variance "
            f"can be estimated (strata left out: {', '.join(dropped) or 'none'})"
        )
    sizes = [c.size + t.size for c, t in used]
    total = sum(sizes)
    effect = var = control_mean = 0.0
    for (c, t), size in zip(used, sizes, strict=True):
        w = size / total
        effect += w * (t.estimate - c.estimate)
        var += w * w * (t.var + c.var)
        control_mean += w * c.estimate
    # Degrees of freedom: the clusters behind the used strata minus their 2K arm means.
    df = float(sum(c.clusters + t.clusters - 2.0 for c, t in used))
    return _finish("stratified", effect, var, df, control_mean, len(used), dropped, alpha)


def _paired(
    used: list[tuple[_Arm, _Arm]], dropped: tuple[str, ...], level: Level, alpha: float
) -> StratifiedDifference:
    m = len(used)
    if m < 2:
        raise StatsError(
            f"expected at least 2 matched sets with both arms for a paired variance (got {m}; "
            f"left out: {', '.join(dropped) or 'none'})"
        )
    if level == "cluster":
        weights = [1.0 / m] * m
    else:
        sizes = [c.size + t.size for c, t in used]
        weights = [s / sum(sizes) for s in sizes]
    diffs = [t.estimate - c.estimate for c, t in used]
    effect = sum(w * d for w, d in zip(weights, diffs, strict=True))
    var = (
        m / (m - 1.0) * sum((w * d - effect / m) ** 2 for w, d in zip(weights, diffs, strict=True))
    )
    control_mean = sum(w * c.estimate for w, (c, _) in zip(weights, used, strict=True))
    return _finish("pair_matched", effect, var, m - 1.0, control_mean, m, dropped, alpha)
