"""Percentile caps over a sharded ClickHouse: an exact order statistic of every shard's units.

A percentile cap is the ``r``-th smallest per-unit value of the units of every arm pooled,
``r = max(ceil(n p), 1)`` (numpy's inverted-CDF quantile; :mod:`.capping` computes it the
same way on one server). The units are spread over the shards, so it is found in two
rounds, both over each shard's per-unit values (:func:`.sql.unit_values`):

1. Each shard sorts its values and returns their count ``n_s`` and a sample: the values of
   rank ``step, 2 step, ...`` and its largest, ``step = max(n_s // SAMPLE, 1)``. The sample
   bounds how many values of each shard lie at or below any ``v``; from the bounds, two
   sample values ``lo < hi`` are chosen such that fewer than ``r`` values are at or below
   ``lo`` and at least ``r`` at or below ``hi``. So the cap is in ``(lo, hi]``.
2. Each shard counts its values at or below ``lo`` and returns its distinct values in
   ``(lo, hi]`` with their counts. The cap is the value of rank ``r - (count at or below
   lo)`` among them, pooled.

Per capped column, fewer than ``2 SAMPLE`` values of each shard travel in round 1 and, per
shard, about ``2 n_s / SAMPLE`` distinct values in round 2 (more only where units tie). The caps found are then passed to the
summary as known caps (the per-unit capping is local to each unit's shard).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence

from splitlab.config.models import Experiment
from splitlab.store.capping_sql import cap_columns
from splitlab.store.clickhouse.sharded_merge import Fanout
from splitlab.store.clickhouse.sql import Dedup, unit_values
from splitlab.store.summary_sql import summary_metrics

#: Values per shard and capped column in the first round's sample.
SAMPLE = 1024


def sharded_caps(
    fan: Fanout,
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    dedup: Dedup,
    known: Mapping[tuple[str, str], float] | None,
) -> dict[tuple[str, str], float] | None:
    """`known` with every percentile cap still to compute added, by (metric, target); None
    when nothing is capped; unchanged when no unit is exposed (the shards then find none)."""
    caps = [c for c in cap_columns(summary_metrics(experiment), known) if c.known is None]
    if not caps:
        return None if known is None else dict(known)
    unit = unit_values(db, experiment, cutoff_ms, (), dedup, prefix="r")
    params = dict(unit.params, k=SAMPLE)
    sorts = ", ".join(f"arraySort(groupArray(r{c.column})) AS a{j}" for j, c in enumerate(caps))
    samples = ", ".join(
        f"arrayFilter((v, i) -> i % greatest(intDiv(length(a{j}), $k), 1) = 0 "
        f"OR i = length(a{j}), a{j}, arrayEnumerate(a{j})) AS q{j}"
        for j in range(len(caps))
    )
    first = fan.each(
        f"SELECT length(a0) AS n, {samples} FROM (SELECT {sorts} FROM {unit.sql})", params
    )
    counts = [int(rows[0][0]) for _, rows in first]
    n = sum(counts)
    out = dict(known or {})
    if n == 0:
        return out
    ranks = [_ranks(c) for c in counts]
    bounds: list[tuple[int, float | None, float]] = []
    for j, cap in enumerate(caps):
        rule = cap.metric.cap if cap.target == "value" else cap.metric.covariate_rule
        assert rule is not None and rule.percentile is not None
        r = max(math.ceil(n * (rule.percentile / 100.0)), 1)
        lo, hi = _bracket(r, ranks, [[float(v) for v in rows[0][1 + j]] for _, rows in first])
        bounds.append((r, lo, hi))
    # round 2: one pass over each shard's units for every column (ARRAY JOIN by column)
    params.update(
        {
            "c_hi": [hi for _, _, hi in bounds],
            "c_lo": [0.0 if lo is None else lo for _, lo, _ in bounds],
            "c_has": [0 if lo is None else 1 for _, lo, _ in bounds],
        }
    )
    values = ", ".join(f"r{c.column}" for c in caps)
    numbers = ", ".join(str(j + 1) for j in range(len(caps)))
    second = fan.each(
        f"""SELECT c, inside, if(inside, v, toFloat64(0)) AS w, count() AS k
FROM (
  SELECT c, v, arrayElement($c_has, c) = 0 OR v > arrayElement($c_lo, c) AS inside
  FROM (SELECT {values} FROM {unit.sql}) ARRAY JOIN [{values}] AS v, [{numbers}] AS c
  WHERE v <= arrayElement($c_hi, c)
)
GROUP BY c, inside, w""",
        params,
    )
    for j, cap in enumerate(caps):
        r, _, _ = bounds[j]
        below = 0
        inside: dict[float, int] = {}
        for _, rows in second:
            for c, is_inside, w, k in rows:
                if int(c) != j + 1:
                    continue
                if int(is_inside):
                    inside[float(w)] = inside.get(float(w), 0) + int(k)
                else:
                    below += int(k)
        out[(cap.metric.name, cap.target)] = _select(r - below, inside)
    return out


def _ranks(count: int) -> list[int]:
    """The ranks (1-based) of a shard's sample of `count` sorted values (round 1)."""
    step = max(count // SAMPLE, 1)
    ranks = list(range(step, count + 1, step))
    if count and (not ranks or ranks[-1] != count):
        ranks.append(count)
    return ranks


def _bracket(
    r: int, ranks: Sequence[Sequence[int]], samples: Sequence[Sequence[float]]
) -> tuple[float | None, float]:
    """Sample values ``lo`` (None: below every value) and ``hi`` with fewer than `r` values at
    or below ``lo`` and at least `r` at or below ``hi``, as close together as the samples
    allow. For a shard, the sample value of rank ``a`` at or below ``v`` proves at least ``a``
    values at or below ``v``; the first sample value above ``v``, of rank ``b``, proves at
    most ``b - 1``."""
    candidates = sorted({v for sample in samples for v in sample})
    hi = candidates[-1]  # every shard's largest value: all n values at or below it
    lo: float | None = None
    for v in candidates:
        at_least = at_most = 0
        for rank, sample in zip(ranks, samples, strict=True):
            below = bisect.bisect_right(sample, v)  # sample values <= v
            at_least += rank[below - 1] if below else 0
            at_most += rank[below] - 1 if below < len(sample) else (rank[-1] if rank else 0)
        if at_most < r:
            lo = v
        if at_least >= r:
            hi = v
            break
    return lo, hi


def _select(rank: int, counts: Mapping[float, int]) -> float:
    """The value of 1-based `rank` among the values counted in `counts` (value -> count)."""
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError(f"rank {rank} beyond the {seen} values found")  # pragma: no cover
