"""Sample ratio mismatch: do the exposed units split as the configured weights say?

Pearson's chi-square goodness-of-fit test of the units per variant against the expected
shares (the configured weights, normalised; traffic allocation scales every arm alike, so it
cancels): ``X^2 = sum (O - E)^2 / E`` with k - 1 degrees of freedom (Pearson 1900; the check
recommended by Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch", KDD). A p-value below
``evaluation.srmThreshold`` (default 0.01, the article's halt rule) flags an SRM; the launch
check (``launchSrmThreshold``, default 0.05, the article's quick start) asks for p above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scipy import special

from splitlab.stats.sums import count

if TYPE_CHECKING:
    from splitlab.stats.versions import VersionSrm


@dataclass(frozen=True, slots=True)
class SrmResult:
    p_value: float | None
    detected: bool
    counts: Mapping[str, float]
    expected_shares: Mapping[str, float]
    threshold: float
    statistic: float | None = None
    launch_threshold: float = 0.05
    #: A sticky experiment whose weights changed: each weights version's own test
    #: (:func:`splitlab.stats.versions.srm_by_version`); the fields above are then the sum
    #: over versions. None for the ordinary check against the current weights.
    by_version: tuple[VersionSrm, ...] | None = None

    @property
    def launch_check_passed(self) -> bool:
        """The article's launch rule: the SRM p-value is above `launchSrmThreshold`."""
        return self.p_value is not None and self.p_value > self.launch_threshold

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pValue": self.p_value,
            "detected": self.detected,
            "counts": {k: count(v) for k, v in self.counts.items()},
            "expectedShares": dict(self.expected_shares),
            "threshold": self.threshold,
            "statistic": self.statistic,
            "launchCheckPassed": self.launch_check_passed,
        }
        if self.by_version is not None:  # only then, so other documents keep their keys
            out["byWeightsVersion"] = [p.to_dict() for p in self.by_version]
        return out


def check(
    counts: Mapping[str, float],
    variants: Sequence[str],
    weights: Sequence[float],
    threshold: float,
    launch_threshold: float = 0.05,
) -> SrmResult:
    """The chi-square SRM test; with no units at all there is nothing to test (p-value None)."""
    total_w = sum(weights)
    shares = {v: w / total_w for v, w in zip(variants, weights, strict=True)}
    observed = {v: float(counts.get(v, 0.0)) for v in variants}
    total = sum(observed.values())
    if total <= 0:
        return SrmResult(None, False, observed, shares, threshold, None, launch_threshold)
    stat = 0.0
    for v in variants:
        expected = total * shares[v]
        if expected <= 0:
            if observed[v] > 0:
                return SrmResult(0.0, True, observed, shares, threshold, None, launch_threshold)
            continue
        stat += (observed[v] - expected) ** 2 / expected
    dof = sum(1 for v in variants if shares[v] > 0) - 1
    p = float(special.chdtrc(dof, stat)) if dof > 0 else 1.0
    return SrmResult(p, p < threshold, observed, shares, threshold, stat, launch_threshold)
