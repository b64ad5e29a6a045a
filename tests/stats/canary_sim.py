"""Vectorised canary simulations: per-interval sums of many runs, judged by the same code as
``splitlab.stats.canary.judge`` (the per-kind array functions, the boundary, the verdict)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means as cm
from splitlab.stats import canary_ranks
from splitlab.stats.canary import FAIL, verdict_codes
from splitlab.stats.canary_ranks import mw_code
from splitlab.stats.mannwhitney import MannWhitney, mann_whitney_shifted, stratified_mann_whitney
from splitlab.stats.sketch import GAMMA, LOG_GAMMA, Sketch, bucket_value

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


def proportion_sums(
    rng: np.random.Generator, runs: int, intervals: int, requests: int, p: float
) -> tuple[Floats, Floats]:
    """Cumulative (n, errors) per run and look: one 0/1 event per request."""
    x = np.cumsum(rng.binomial(requests, p, (runs, intervals)), axis=1).astype(float)
    n = np.broadcast_to(np.arange(1, intervals + 1, dtype=float) * requests, x.shape)
    return np.array(n), x


def normal_sums(
    rng: np.random.Generator, runs: int, intervals: int, requests: int, mean: float, sd: float
) -> tuple[Floats, Floats, Floats]:
    """Cumulative (n, sum, sum of squares) per run and look of normal values, drawn exactly:
    per interval the sum is N(m mu, m sd^2) and the centred sum of squares sd^2 chi2_{m-1},
    independent of it (Cochran's theorem)."""
    total = rng.normal(requests * mean, sd * np.sqrt(requests), (runs, intervals))
    centred = sd * sd * rng.chisquare(requests - 1, (runs, intervals))
    squares = centred + total * total / requests
    n = np.broadcast_to(np.arange(1, intervals + 1, dtype=float) * requests, total.shape)
    return np.array(n), np.cumsum(total, axis=1), np.cumsum(squares, axis=1)


def judge_mean_kind(
    baseline: cm.ArmArrays,
    canary: cm.ArmArrays,
    *,
    proportion: bool,
    relative: bool,
    tolerance: float,
    bad_direction: str,
    level: float,
    min_requests: int,
) -> Ints:
    """Verdict codes per run and look (FAIL -1, MARGINAL 0, PASS 1)."""
    est, var, _, _ = cm.effect(baseline, canary, proportion, relative)
    r = cb.information_ratio(
        cb.effective_n(baseline.n, canary.n), cb.target_effective_n(min_requests), level
    )
    half = cb.critical(r, level) * np.sqrt(var)
    lower, upper = (cm.reported(x, relative) for x in (est - half, est + half))
    return verdict_codes(lower, upper, tolerance, bad_direction)


def share_with_se(hits: NDArray[np.bool_]) -> tuple[float, float]:
    """The share of runs with a hit and its Monte Carlo standard error."""
    share = float(np.mean(hits))
    return share, float(np.sqrt(max(share * (1 - share), 1e-12) / hits.size))


# --- latency kinds (mann_whitney, quantile) -------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Per run and interval: sum, sum of squares and the sketch as dense bucket counts
    (``counts[..., j]`` is bucket key ``offset + j``; keys as ``Sketch.from_values``)."""

    total: Floats
    squares: Floats
    counts: NDArray[np.int64]
    offset: int


def latency(
    rng: np.random.Generator,
    runs: int,
    intervals: int,
    requests: int,
    mu: float,
    sigma: float,
    scale: float = 1.0,
    offset: int = 0,
    width: int = 1000,
) -> Latency:
    """Lognormal values times ``scale``, summarised per interval (exact sketch keys)."""
    total = np.empty((runs, intervals))
    squares = np.empty((runs, intervals))
    counts = np.empty((runs, intervals, width), dtype=np.int64)
    for start in range(0, runs, 250):  # chunks keep the arrays small
        stop = min(start + 250, runs)
        x = rng.lognormal(mu, sigma, (stop - start, intervals, requests)) * scale
        keys = np.ceil(np.log(x) / LOG_GAMMA).astype(np.int64) - offset
        if keys.min() < 0 or keys.max() >= width:
            raise ValueError("latency: widen the bucket range")
        cell = np.arange((stop - start) * intervals, dtype=np.int64) * width
        flat = (cell.reshape(stop - start, intervals, 1) + keys).ravel()
        counts[start:stop] = np.bincount(
            flat, minlength=(stop - start) * intervals * width
        ).reshape(stop - start, intervals, width)
        total[start:stop] = x.sum(-1)
        squares[start:stop] = (x * x).sum(-1)
    return Latency(total, squares, counts, offset)


def bucket_values(offset: int, width: int) -> Floats:
    """The representative values of keys offset .. offset + width - 1 (as Sketch.distinct)."""
    return np.array([bucket_value(k) for k in range(offset, offset + width)])


def sketch_of(counts: NDArray[np.int64], offset: int) -> Sketch:
    nz = np.nonzero(counts)[0]
    return Sketch(0, {int(k) + offset: int(counts[k]) for k in nz})


def mw_interval_strata(
    base: Latency, can: Latency, tolerance: float, relative: bool
) -> list[list[MannWhitney]]:
    """Per run, per interval: quant's shifted Mann-Whitney of canary vs baseline moved by the
    tolerance, on the sketches' distinct values (the same input ``judge`` gives it)."""
    values = bucket_values(base.offset, base.counts.shape[-1])
    out = []
    for r in range(base.counts.shape[0]):
        row = []
        for i in range(base.counts.shape[1]):
            b, c = base.counts[r, i], can.counts[r, i]
            mb, mc = b > 0, c > 0
            row.append(
                mann_whitney_shifted(
                    values[mc],
                    c[mc],
                    values[mb],
                    b[mb],
                    tolerance,
                    scale="relative" if relative else "absolute",
                )
            )
        out.append(row)
    return out


def mw_codes(
    strata: list[list[MannWhitney]], level: float, min_requests: int, bad_direction: str
) -> Ints:
    """Verdict codes per run and look from the stratified z at the tolerance."""
    target = cb.target_effective_n(min_requests)
    runs, looks = len(strata), len(strata[0])
    codes = np.zeros((runs, looks), dtype=np.int64)
    for r in range(runs):
        n_eff = 0.0
        for k in range(looks):
            s = strata[r][k]
            n_eff += float(cb.effective_n(s.n_x, s.n_y))
            z = stratified_mann_whitney(strata[r][: k + 1]).z
            c = float(cb.critical(cb.information_ratio(n_eff, target, level), level))
            codes[r, k] = mw_code(z, c, bad_direction)
    return codes


def quantile_codes(
    base: Latency,
    can: Latency,
    p: float,
    tolerance: float,
    level: float,
    min_requests: int,
    wanted: int,
    where: NDArray[np.bool_] | None = None,
) -> Ints:
    """Verdict codes per run and look of the relative ``p``-quantile (merged sketches, quant's
    interval). Only the looks where verdict ``wanted`` (FAIL or PASS) is possible are judged by
    the real function: the point estimate must be beyond (FAIL) or inside (PASS) the
    tolerance for the interval to be, and the bucket representatives give it to within two
    buckets (4 %); the other looks are left MARGINAL, and so are looks outside ``where`` and
    a run's looks after its first ``wanted`` verdict (the tests need only the first)."""
    cb_, cc_ = np.cumsum(base.counts, axis=1), np.cumsum(can.counts, axis=1)
    nb, nc = cb_.sum(-1), cc_.sum(-1)
    ib = (np.cumsum(cb_, -1) > (nb * p - 0.5)[..., None]).argmax(-1)
    ic = (np.cumsum(cc_, -1) > (nc * p - 0.5)[..., None]).argmax(-1)
    rough = np.expm1((ic - ib) * LOG_GAMMA)
    margin = 2.5 * (GAMMA - 1.0)
    candidate = rough > tolerance - margin if wanted == FAIL else rough < tolerance + margin
    if where is not None:
        candidate &= where
    target = cb.target_effective_n(min_requests)
    codes = np.zeros(nb.shape, dtype=np.int64)
    done = np.zeros(nb.shape[0], dtype=bool)
    for r, k in zip(*np.nonzero(candidate), strict=True):  # row-major: looks in order
        if done[r]:
            continue
        c = float(
            cb.critical(
                cb.information_ratio(cb.effective_n(nb[r, k], nc[r, k]), target, level), level
            )
        )
        out = canary_ranks.quantile_effect(
            sketch_of(cb_[r, k], base.offset), sketch_of(cc_[r, k], can.offset), p, True, c
        )
        if not isinstance(out, str):
            codes[r, k] = int(verdict_codes(out[1], out[2], tolerance, "increase"))
            done[r] = codes[r, k] == wanted
    return codes
