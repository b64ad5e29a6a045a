"""Longer canary simulations with fresh seeds (proportion and mean kinds), beside a baseline.

For each case: the canary's confidence sequence (what ``judge`` does) and, as the baseline, a
fixed-sample one-sided z interval at the same level looked at after every interval.

* at the tolerance: the true effect equals the tolerance; the share of runs with any FAIL
  over 20 looks (the bound is the level, 0.1);
* 1.2x the tolerance: the share of runs that PASS at some look (a false promotion);
* +3 pp errors (1 % -> 4 %, tolerance 1 pp, 300 requests per arm per interval): the
  simulated median interval of the rollback beside the power calculation's.

Run: ``.venv/bin/python bench/canary_simulation.py [--runs N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from splitlab.stats import canary_means as cm
from splitlab.stats import canary_power as cp
from splitlab.stats.canary import FAIL, PASS, verdict_codes
from tests.stats.canary_sim import judge_mean_kind, normal_sums, proportion_sums

Z90 = 1.2815515655446004  # one-sided 10 % (scipy.stats.norm.ppf(0.9))


def _arms(
    rng: np.random.Generator, runs: int, kind: str, looks: int, m: int, shift: float
) -> tuple[cm.ArmArrays, cm.ArmArrays, float, bool]:
    if kind == "proportion":
        n, xb = proportion_sums(rng, runs, looks, m, 0.02)
        _, xc = proportion_sums(rng, runs, looks, m, 0.02 + shift * 0.01)
        return cm.ArmArrays.per_request(n, xb, xb), cm.ArmArrays.per_request(n, xc, xc), 0.01, False
    n, sb, qb = normal_sums(rng, runs, looks, m, 200.0, 80.0)
    _, sc, qc = normal_sums(rng, runs, looks, m, 200.0 * (1 + shift * 0.1), 80.0)
    return cm.ArmArrays.per_request(n, sb, qb), cm.ArmArrays.per_request(n, sc, qc), 0.1, True


def _codes(b: cm.ArmArrays, c: cm.ArmArrays, tol: float, rel: bool, kind: str, m: int):
    seq = judge_mean_kind(
        b,
        c,
        proportion=kind == "proportion",
        relative=rel,
        tolerance=tol,
        bad_direction="increase",
        level=0.1,
        min_requests=5 * m,
    )
    est, var, _, _ = cm.effect(b, c, kind == "proportion", rel)
    half = Z90 * np.sqrt(var)
    lower, upper = (cm.reported(x, rel) for x in (est - half, est + half))
    return seq, verdict_codes(lower, upper, tol, "increase")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    runs, looks, m = args.runs, 20, 400
    print(f"seed {seed}, {runs} runs, {looks} looks of {m} requests per arm, level 0.1")
    print(f"{'case':<34}{'sequence':>12}{'fixed z':>12}")
    for kind in ("proportion", "mean"):
        b, c, tol, rel = _arms(rng, runs, kind, looks, m, 1.0)
        seq, fixed = _codes(b, c, tol, rel, kind, m)
        print(
            f"{kind + ': FAIL at the tolerance':<34}"
            f"{np.mean((seq == FAIL).any(1)):>12.4f}{np.mean((fixed == FAIL).any(1)):>12.4f}"
        )
        b, c, tol, rel = _arms(rng, runs, kind, looks, m, 1.2)
        seq, fixed = _codes(b, c, tol, rel, kind, m)
        print(
            f"{kind + ': PASS at 1.2x tolerance':<34}"
            f"{np.mean((seq == PASS).any(1)):>12.4f}{np.mean((fixed == PASS).any(1)):>12.4f}"
        )
    level, m, looks = 0.05 / 12, 300, 40
    n, xb = proportion_sums(rng, runs, looks, m, 0.01)
    _, xc = proportion_sums(rng, runs, looks, m, 0.04)
    codes = judge_mean_kind(
        cm.ArmArrays.per_request(n, xb, xb),
        cm.ArmArrays.per_request(n, xc, xc),
        proportion=True,
        relative=False,
        tolerance=0.01,
        bad_direction="increase",
        level=level,
        min_requests=1000,
    )
    failed = (codes == FAIL).any(1)
    first = np.where(failed, (codes == FAIL).argmax(1) + 1, looks + 1)
    v1 = cp.proportion_variance(0.01, 0.04, m)
    predicted = cp.intervals_to_fail(0.03, 0.01, "increase", v1, m, level, 1000)
    probs = cp.fail_probabilities(0.03, 0.01, "increase", v1, m, level, 1000, looks)
    print(
        f"+3 pp errors: predicted {predicted}, numerical median "
        f"{cp.median_intervals_to_fail(probs)}, simulated median {np.median(first):g}, "
        f"rolled back by the predicted interval {np.mean(first <= (predicted or 0)):.3f} "
        f"(numerical {probs[(predicted or 1) - 1]:.3f})"
    )


if __name__ == "__main__":
    main()
