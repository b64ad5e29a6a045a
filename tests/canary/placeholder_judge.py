"""A stand-in for ``splitlab.stats.canary.judge`` with the C2 signature, used only until the
real judge is merged (simple normal intervals; not the shipped statistics)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.adaptive import CanaryDesign
from splitlab.stats.intervals import IntervalArm


@dataclass
class Diff:
    name: str
    kind: str
    verdict: str
    estimate: float
    lower: float
    upper: float
    tolerance: float
    tolerance_type: str
    bad_direction: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "verdict": self.verdict,
                "estimate": self.estimate, "lower": self.lower, "upper": self.upper,
                "tolerance": self.tolerance, "reason": self.reason}  # fmt: skip


@dataclass
class Judgment:
    verdict: str
    metrics: list[Diff]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "metrics": [m.to_dict() for m in self.metrics]}


def judge(
    design: CanaryDesign,
    data: Mapping[str, Sequence[Mapping[str, IntervalArm]]],
    *,
    alpha: float,
    step: int,
    baseline: str,
    canary: str,
) -> Judgment:
    diffs = []
    for m in design.metrics:
        arms = {}
        for arm in (baseline, canary):
            parts = [iv[arm] for iv in data[m.name] if arm in iv]
            arms[arm] = sum(parts[1:], parts[0]) if parts else None
        b, c = arms[baseline], arms[canary]
        sign = 1.0 if m.bad_direction == "increase" else -1.0
        if b is None or c is None or b.n < 50 or c.n < 50:
            diffs.append(Diff(m.name, m.kind, "marginal", math.nan, math.nan, math.nan,
                              m.tolerance, m.tolerance_type, m.bad_direction, "too few"))  # fmt: skip
            continue
        if m.kind == "quantile":
            assert b.sketch is not None and c.sketch is not None and m.quantile is not None
            qb, qc = b.sketch.quantile(m.quantile), c.sketch.quantile(m.quantile)
            est = (qc / qb - 1.0) if m.tolerance_type == "relative" else qc - qb
            lo = hi = est
        else:
            mb, mc = b.sum / b.n, c.sum / c.n
            vb = max(b.event_sum_sq / b.n - mb * mb, 1e-12) / b.n
            vc = max(c.event_sum_sq / c.n - mc * mc, 1e-12) / c.n
            est = mc - mb
            half = 1.96 * math.sqrt(vb + vc)
            if m.tolerance_type == "relative":
                est, half = est / mb, half / mb
            lo, hi = est - half, est + half
        worst, best = (hi, lo) if sign > 0 else (-lo, -hi)
        verdict = "fail" if best > m.tolerance else "pass" if worst < m.tolerance else "marginal"
        diffs.append(Diff(m.name, m.kind, verdict, est, lo, hi, m.tolerance, m.tolerance_type,
                          m.bad_direction, f"placeholder {verdict}"))  # fmt: skip
    verdicts = {d.verdict for d in diffs}
    overall = "fail" if "fail" in verdicts else "marginal" if "marginal" in verdicts else "pass"
    return Judgment(overall, diffs)
