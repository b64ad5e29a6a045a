"""Sticky experiments whose weights changed: SRM and effects per weights version.

A sticky experiment keeps each exposed unit's first variant when its weights change, so after
a change from 50/50 to 20/80 the units per variant are a mixture of both splits, and the
cohorts of each *weights version* (the units first exposed while it was in force) differ in
when they arrived as well as in their split. Two consequences, both handled here:

* SRM: each version's cohort is tested against that version's own weights. Pearson's
  chi-square statistics of the versions add up, and so do their degrees of freedom:
  ``X^2 = sum_v sum_i (O_vi - E_vi)^2 / E_vi`` with ``E_vi = N_v p_vi`` and
  ``df = sum_v (k_v - 1)`` (``k_v`` the variants with a positive weight in version v); the
  cohorts are independent, so ``X^2`` is chi-square with ``df`` degrees of freedom under the
  null (the sum of independent chi-squares; Pearson 1900). Each version's own p-value is
  reported too.
* Effects: a pooled difference of means mixes cohorts with different baselines in different
  proportions per variant (a time trend then looks like an effect). The stratified estimator
  compares the variants within each version's cohort and averages the differences with the
  cohort's share of units ``W_v = N_v / N``:
  ``effect = sum_v W_v d_v`` and ``Var(effect) = sum_v W_v^2 Var(d_v)`` (the post-stratified
  estimator with the versions as strata, conditional on the cohort sizes: Miratrix, Sekhon &
  Yu 2013, "Adjusting treatment effect estimates by post-stratification in randomized
  experiments", JRSS-B 75(2); Imbens & Rubin 2015, *Causal Inference*, ch. 9, stratified
  randomized experiments). Each ``d_v`` is the classic comparison of that cohort (Welch,
  proportions or z; CUPED and ratio metrics as in the classic path), so the control mean,
  its variance and its covariance with the effect combine the same way and the relative
  effect follows by the classic delta method or Fieller's interval. Welch degrees of freedom
  combine by Satterthwaite's rule ``df = (sum a_v)^2 / sum (a_v^2 / df_v)`` with
  ``a_v = W_v^2 Var(d_v)`` (Satterthwaite 1946).

A version whose comparison cannot be made (fewer than 2 units in an arm, no variance) is left
out of that comparison, the weights renormalised over the others, and a note says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scipy import special

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats.difference import Difference, two_sided_p
from splitlab.stats.results import num
from splitlab.stats.srm import SrmResult
from splitlab.stats.sums import ExperimentSums, count

if TYPE_CHECKING:
    from splitlab.stats.analyze import Estimator, ViewCache

#: Sums slices of the weights versions: ``"@weightsVersion=<k>"``. A segment attribute
#: starts with a letter, so the name never collides with a segment's slice.
VERSION_SLICE_PREFIX = "@weightsVersion="


def version_slice(version: int) -> str:
    """The name of weights version `version`'s slice in ``ExperimentSums.segments``."""
    return f"{VERSION_SLICE_PREFIX}{version}"


@dataclass(frozen=True, slots=True)
class WeightsVersion:
    """Weights version ``version``: in force from ``start`` (version 0: the launch)."""

    version: int
    start: datetime
    weights: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "weights": dict(self.weights),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightsVersion:
        start = datetime.fromisoformat(str(data["start"]).replace("Z", "+00:00"))
        weights = {str(k): float(v) for k, v in data["weights"].items()}
        return cls(int(data["version"]), start, weights)


def split_text(weights: Mapping[str, Any]) -> str:
    """Weights as a split in percent, in variant order: ``"50/50"``, ``"20/80"``."""
    return "/".join(f"{float(w) * 100:.3g}" for w in weights.values())


def versions_line(block: Mapping[str, Any]) -> str:
    """One line about a look document's ``weightsVersions``: each version's split and start,
    and the SRM p-value per version."""
    parts = [
        f"v{v['version']} {split_text(v['weights'])} from "
        f"{str(v['start'])[:16].replace('T', ' ')} UTC"
        for v in block.get("versions") or []
    ]
    p = block.get("srmPValue")
    p_text = "n/a" if p is None else f"{p:.4g}"
    return (
        f"Weights versions: {', '.join(parts)}; SRM per version p = {p_text}; effects "
        "stratified by weights version"
    )


def versioned(experiment: Experiment, versions: Sequence[WeightsVersion] | None) -> bool:
    """Whether a look analyses `experiment` per weights version: sticky, classic, 2+ versions."""
    return (
        versions is not None
        and len(versions) > 1
        and experiment.assignment.sticky
        and experiment.design is None
    )


# ----------------------------------------------------------------------------- SRM


@dataclass(frozen=True, slots=True)
class VersionSrm:
    """One version's chi-square test: its counts, their expectation under its weights."""

    version: int
    counts: Mapping[str, float]
    expected: Mapping[str, float]
    statistic: float | None
    dof: int
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "counts": {k: count(v) for k, v in self.counts.items()},
            "expected": dict(self.expected),
            "statistic": num(self.statistic),  # None for the infinite one (seen, not expected)
            "dof": self.dof,
            "pValue": self.p_value,
        }


def _version_srm(
    version: int, counts: Mapping[str, float], variants: Sequence[str], weights: Mapping[str, float]
) -> VersionSrm:
    total_w = sum(max(float(weights.get(v, 0.0)), 0.0) for v in variants) or 1.0
    observed = {v: float(counts.get(v, 0.0)) for v in variants}
    total = sum(observed.values())
    shares = {v: max(float(weights.get(v, 0.0)), 0.0) / total_w for v in variants}
    expected = {v: total * shares[v] for v in variants}
    dof = sum(1 for v in variants if shares[v] > 0) - 1
    if total <= 0:
        return VersionSrm(version, observed, expected, None, dof, None)
    if any(expected[v] <= 0 < observed[v] for v in variants):
        return VersionSrm(version, observed, expected, math.inf, dof, 0.0)
    stat = sum((observed[v] - expected[v]) ** 2 / expected[v] for v in variants if expected[v] > 0)
    p = float(special.chdtrc(dof, stat)) if dof > 0 else 1.0
    return VersionSrm(version, observed, expected, stat, dof, p)


def srm_by_version(
    versions: Sequence[WeightsVersion],
    units: Sequence[Mapping[str, float]],
    variants: Sequence[str],
    threshold: float,
    launch_threshold: float = 0.05,
) -> SrmResult:
    """The SRM check summed over weights versions (see the module docstring).

    ``units[i]`` are the units per variant first exposed under ``versions[i]``. The result's
    ``counts`` are the pooled units and ``expected_shares`` the pooled expectation (a mixture
    of the versions' weights); ``by_version`` holds each version's own test.
    """
    parts = tuple(
        _version_srm(v.version, u, variants, v.weights)
        for v, u in zip(versions, units, strict=True)
    )
    pooled = {v: sum(p.counts[v] for p in parts) for v in variants}
    total = sum(pooled.values())
    shares = {
        v: (sum(p.expected[v] for p in parts) / total if total > 0 else 0.0) for v in variants
    }
    tested = [p for p in parts if p.p_value is not None]
    if not tested:
        return SrmResult(
            None, False, pooled, shares, threshold, None, launch_threshold, by_version=parts
        )
    if any(p.p_value == 0.0 and p.statistic == math.inf for p in tested):
        return SrmResult(
            0.0, True, pooled, shares, threshold, None, launch_threshold, by_version=parts
        )
    stat = sum(p.statistic or 0.0 for p in tested)
    dof = sum(max(p.dof, 0) for p in tested)
    p_value = float(special.chdtrc(dof, stat)) if dof > 0 else 1.0
    return SrmResult(
        p_value,
        p_value < threshold,
        pooled,
        shares,
        threshold,
        stat,
        launch_threshold,
        by_version=parts,
    )


def version_units(
    sums: ExperimentSums, versions: Sequence[WeightsVersion]
) -> list[dict[str, float]]:
    """Units per variant of each version's slice (empty when the slice is absent)."""
    out: list[dict[str, float]] = []
    for v in versions:
        part = sums.segments.get(version_slice(v.version))
        out.append({} if part is None else {k: float(n) for k, n in part.units.items()})
    return out


# ----------------------------------------------------------------------------- effects


def combine(diffs: Sequence[Difference], weights: Sequence[float]) -> Difference:
    """The stratified difference ``sum w_v d_v`` of independent per-version differences.

    `weights` are renormalised to sum to 1. Every moment the intervals and the relative effect
    need combines linearly (means) or with ``w_v^2`` (variances and covariances).
    """
    total = sum(weights)
    w = [x / total for x in weights]
    estimate = sum(wi * d.estimate for wi, d in zip(w, diffs, strict=True))
    parts = [wi * wi * d.se * d.se for wi, d in zip(w, diffs, strict=True)]
    se = math.sqrt(sum(parts))
    if all(math.isinf(d.df) for d in diffs):
        df = math.inf
    else:
        den = sum(a * a / d.df for a, d in zip(parts, diffs, strict=True) if not math.isinf(d.df))
        df = sum(parts) ** 2 / den if den > 0 else math.inf
    statistic = estimate / se if se > 0 else 0.0
    return Difference(
        estimate=estimate,
        se=se,
        df=df,
        statistic=statistic,
        p_value=two_sided_p(statistic, df) if se > 0 else 1.0,
        control_mean=sum(wi * d.control_mean for wi, d in zip(w, diffs, strict=True)),
        treatment_mean=sum(wi * d.treatment_mean for wi, d in zip(w, diffs, strict=True)),
        var_control_mean=sum(wi * wi * d.var_control_mean for wi, d in zip(w, diffs, strict=True)),
        cov_estimate_control=sum(
            wi * wi * d.cov_estimate_control for wi, d in zip(w, diffs, strict=True)
        ),
        theta=None,
        single_stratum=False,
    )


EstimateResult = tuple[Difference | None, str | None, tuple[str, ...], tuple[float, float]]


def stratified_estimator(
    inner: Estimator, versions: Sequence[WeightsVersion]
) -> Callable[[Experiment, ExperimentSums, Metric, str, ViewCache], EstimateResult]:
    """An estimator of :mod:`splitlab.stats.analyze` that runs `inner` (the classic one) on
    each version's slice and combines the estimates (:func:`combine`), cohorts weighted by
    their share of units."""

    def estimate(
        experiment: Experiment,
        sums: ExperimentSums,
        metric: Metric,
        variant: str,
        cache: ViewCache,
    ) -> EstimateResult:
        if metric.type == MetricType.QUANTILE:
            return (
                None,
                "quantile metrics are not stratified by weights version (a weighted "
                "difference of quantiles is not the quantile difference)",
                (),
                (0.0, 0.0),
            )
        diffs: list[Difference] = []
        sizes: list[float] = []
        left_out: list[str] = []
        units = [0.0, 0.0]
        notes: list[str] = []
        for v in versions:
            part = sums.segments.get(version_slice(v.version))
            if part is None:
                continue
            size = float(sum(part.units.values()))
            if size <= 0:
                continue
            sliced = ExperimentSums(part.units, part.metrics, sums.experiment_id, sums.look)
            diff, reason, v_notes, arm_units = inner(experiment, sliced, metric, variant, cache)
            if diff is None:
                left_out.append(f"v{v.version} ({reason})")
                continue
            diffs.append(diff)
            sizes.append(size)
            units[0] += arm_units[0]
            units[1] += arm_units[1]
            notes += [n for n in v_notes if n not in notes]
        if not diffs:
            detail = "; ".join(left_out) or "no units"
            return None, f"no weights version could be compared: {detail}", (), (0.0, 0.0)
        if metric.cuped:
            notes.append("CUPED theta estimated within each weights version")
        if left_out:
            notes.append(
                "weights version(s) left out of this comparison: "
                + "; ".join(left_out)
                + " (the others reweighted)"
            )
        return combine(diffs, sizes), None, tuple(notes), (units[0], units[1])

    return estimate


def versions_block(versions: Sequence[WeightsVersion], srm: SrmResult) -> dict[str, Any]:
    """The look document's ``weightsVersions``: each version's start, weights and units, and
    that the analysis was stratified by version."""
    by_version = {p.version: p for p in srm.by_version or ()}
    rows = []
    for v in versions:
        part = by_version.get(v.version)
        rows.append(
            {
                **v.to_dict(),
                "units": {k: count(n) for k, n in part.counts.items()} if part else {},
                "srmPValue": part.p_value if part else None,
            }
        )
    return {
        "analysis": "stratified by weights version",
        "srmPValue": srm.p_value,
        "versions": rows,
    }
