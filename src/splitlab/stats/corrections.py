"""Multiple comparisons over a family of tests (variants x primary and secondary metrics).

Adjusted p-values, so that "adjusted p <= alpha" is the procedure's decision:

* Bonferroni: ``min(1, m p)``; controls the family-wise error rate (FWER).
* Holm (1979), step-down: with p sorted ascending, ``max_{j<=i} min(1, (m - j + 1) p_(j))``;
  controls the FWER and rejects at least what Bonferroni rejects.
* Benjamini-Hochberg (1995), step-up: ``min_{j>=i} min(1, m p_(j) / j)``; controls the false
  discovery rate (FDR) for independent or positively dependent tests.

These are the same adjusted p-values as statsmodels' ``multipletests`` (methods
``bonferroni``, ``holm``, ``fdr_bh``). Repeated looks are a different problem, handled by
:mod:`splitlab.stats.sequential` (the article's defect 11 mixed the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Correction = Literal["bonferroni", "holm", "benjamini_hochberg", "none"]


def adjust(p_values: Sequence[float], method: Correction) -> list[float]:
    """Adjusted p-values, in the order given."""
    m = len(p_values)
    if m == 0 or method == "none":
        return [min(1.0, p) for p in p_values]
    if method == "bonferroni":
        return [min(1.0, m * p) for p in p_values]
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p_values[i]))
            out[i] = running
        return out
    if method == "benjamini_hochberg":
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, m * p_values[i] / (rank + 1))
            out[i] = min(1.0, running)
        return out
    raise ValueError(f"unknown correction {method!r}")


def decision_levels(method: Correction, alpha: float, m: int) -> tuple[float, ...]:
    """Every per-comparison level at which the correction's decision can be taken.

    Bonferroni ``alpha/m``; Holm's steps ``alpha/k`` (k = 1..m); BH's steps ``k alpha/m``;
    none ``alpha``. :func:`interval_level` always returns one of these (the same float), so the
    sequential boundary can be computed exactly at each of them.
    """
    if method == "none" or m <= 1:
        return (alpha,)
    if method == "bonferroni":
        return (alpha / m,)
    if method == "holm":
        return tuple(alpha / k for k in range(1, m + 1))
    return tuple(alpha * k / m for k in range(1, m + 1))


def interval_level(method: Correction, alpha: float, m: int, rejected: int) -> float:
    """The two-sided level at which the correction decided, for each comparison's interval.

    With p-values p_i and R the number of rejections, ``p_i <= level`` exactly for the
    rejected comparisons, so an interval at this level excludes 0 exactly when the correction
    rejects:

    * Bonferroni: ``alpha/m`` (simultaneous intervals).
    * Holm: ``alpha/(m - R)`` (``alpha`` when all are rejected), the level of the step at
      which the step-down stopped: every rejected p is at most ``alpha/(m - R + 1)`` and every
      other one exceeds ``alpha/(m - R)``. Holm-consistent *simultaneous* intervals are not
      informative beyond the sign (Strassburger & Bretz 2008, Stat. Med. 27), so these are
      per-comparison intervals at the decision's level, not simultaneous ones.
    * BH: ``R alpha/m`` (``alpha/m`` when R = 0), the false-coverage-rate intervals of
      Benjamini & Yekutieli (2005): every rejected p is at most ``R alpha/m`` and every other
      p_(j) exceeds ``j alpha/m > R alpha/m``.
    """
    if method == "none" or m <= 1:
        return alpha
    if method == "bonferroni":
        return alpha / m
    if method == "holm":
        return alpha / max(m - rejected, 1)
    return alpha * max(rejected, 1) / m
