"""The chance that a canary *exactly at its relative tolerance* passes a step (a false
promotion), for a proportion metric (an error rate) judged after every interval.

splitlab judges a relative effect on the log-ratio scale (stats/canary_means.py:
``log(m_c / m_b)``, variance ``V_c / m_c^2 + V_b / m_b^2``, tolerance ``log(1 + t)``). Beside
it, in the same run, the ratio-scale interval it replaced (``m_c / m_b - 1`` with the
delta-method variance ``(V_c + R^2 V_b) / m_b^2``), which passed far too often at low rates. A valid one-sided error is at most alpha per metric (0.05 here), and the
two-sided sequence makes it about half of that.

    .venv/bin/python bench/canary_relative_check.py [--runs 4000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means as cm
from splitlab.stats.canary import PASS, verdict_codes


def first_pass_rate(
    rng: np.random.Generator, p_b: float, tol: float, per: int, runs: int, log_scale: bool
) -> float:
    alpha, looks = 0.05, 40
    target = cb.target_effective_n(1000)
    p_c = p_b * (1 + tol)
    n = np.zeros(runs)
    s_b, s_c = np.zeros(runs), np.zeros(runs)
    passed = np.zeros(runs, dtype=bool)
    decided = np.zeros(runs, dtype=bool)
    for _ in range(looks):
        n += per
        s_b += rng.binomial(per, p_b, runs)
        s_c += rng.binomial(per, p_c, runs)
        b = cm.ArmArrays.per_request(n, s_b, s_b)
        c = cm.ArmArrays.per_request(n, s_c, s_c)
        if log_scale:
            est, var, _, _ = cm.effect(b, c, True, True)
            tolerance = cm.working_tolerance(tol, True)
        else:  # the ratio scale, as splitlab did before
            m_b, v_b = cm.arm_mean_variance(b, True)
            m_c, v_c = cm.arm_mean_variance(c, True)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = m_c / m_b
                est, var = ratio - 1.0, (v_c + ratio * ratio * v_b) / (m_b * m_b)
            tolerance = tol
        crit = cb.critical(cb.information_ratio(cb.effective_n(n, n), target, alpha), alpha)
        with np.errstate(invalid="ignore"):  # NaN while an arm has no event: marginal
            half = crit * np.sqrt(var)
            code = verdict_codes(est - half, est + half, tolerance, "increase")
        passed |= (code == PASS) & ~decided
        decided |= code != 0
    return float(passed.mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    band = 3 * math.sqrt(0.05 * 0.95 / args.runs)
    print(f"P(pass) at the tolerance, alpha 0.05, 40 looks, {args.runs} runs (3 s.e. {band:.3f})")
    print(
        f"{'baseline rate':>14} {'tolerance':>10} {'per interval':>13} {'ratio (before)':>15} {'log ratio (now)':>16}"
    )
    for p_b, tol, per in (
        (0.01, 0.2, 500),
        (0.002, 0.2, 500),
        (0.002, 0.5, 200),
        (0.05, 0.1, 1000),
    ):
        now = first_pass_rate(rng, p_b, tol, per, args.runs, log_scale=False)
        log = first_pass_rate(rng, p_b, tol, per, args.runs, log_scale=True)
        print(f"{p_b:>14g} {tol:>10g} {per:>13d} {now:>15.4f} {log:>16.4f}")


if __name__ == "__main__":
    main()
