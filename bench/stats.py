"""Benchmark: one analysis from sufficient statistics, splitlab vs GrowthBook's gbstats.

One experiment with 3 variants and 10 metrics (5 conversion rates, 5 continuous means with
CUPED), O'Brien-Fleming alpha spending at look 3 of 5, each correction in turn, analysed from
the same sums; beside it, in the same run and alternating rounds, gbstats'
``process_experiment_results`` (frequentist, its sequential option on) on those sums.

    .venv-bench/bin/python bench/stats.py
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness import compare, report
from splitlab import load_experiment
from splitlab.stats import ArmSums, ExperimentSums, analyze

VARIANTS = ("control", "variant-a", "variant-b")
N = 20_000
CONVERSIONS = [f"conv_{i}" for i in range(5)]
CONTINUOUS = [f"value_{i}" for i in range(5)]


def definition(correction: str) -> Any:
    metrics = [{"name": m, "type": "conversion"} for m in CONVERSIONS] + [
        {"name": m, "type": "continuous", "cuped": True} for m in CONTINUOUS
    ]
    return load_experiment(
        {
            "experimentId": "bench-stats",
            "status": "running",
            "variants": list(VARIANTS),
            "assignment": {"salt": "bench"},
            "metrics": {"primary": metrics[0], "secondary": metrics[1:]},
            "evaluation": {
                "correction": correction,
                "maxPeeks": 5,
                "minSampleSize": 50_000,
                "sequential": {"method": "alpha_spending", "spending": "obrien_fleming"},
            },
        }
    )


def make_sums(seed: int = 1) -> ExperimentSums:
    rng = np.random.default_rng(seed)
    metrics: dict[str, dict[str, ArmSums]] = {}
    for i, name in enumerate(CONVERSIONS):
        metrics[name] = {}
        for j, v in enumerate(VARIANTS):
            x = float(rng.binomial(N, 0.1 + 0.002 * i + 0.003 * j))
            metrics[name][v] = ArmSums(N, x, x)
    for i, name in enumerate(CONTINUOUS):
        metrics[name] = {}
        for j, v in enumerate(VARIANTS):
            pre = rng.gamma(2.0, 5.0 + i, N)
            post = pre * 0.8 + rng.gamma(2.0, 2.0, N) + 0.05 * j
            metrics[name][v] = ArmSums.from_values(post, covariate=pre)
    return ExperimentSums({v: N for v in VARIANTS}, metrics, "bench-stats", 3)


def gbstats_payload(sums: ExperimentSums) -> dict[str, Any]:
    names = CONVERSIONS + CONTINUOUS
    rows = []
    for idx, v in enumerate(VARIANTS):
        row: dict[str, Any] = {"dimension": "All", "variation": str(idx), "users": N, "count": N}
        for k, name in enumerate(names):
            arm = sums.metrics[name][v]
            row[f"m{k}_main_sum"] = arm.sum
            row[f"m{k}_main_sum_squares"] = arm.sum_sq
            if arm.covariate is not None:
                row[f"m{k}_covariate_sum"] = arm.covariate.sum
                row[f"m{k}_covariate_sum_squares"] = arm.covariate.sum_sq
                row[f"m{k}_main_covariate_sum_product"] = arm.covariate.sum_product
        rows.append(row)
    metrics = {
        name: {
            "id": name,
            "name": name,
            "statistic_type": "mean",
            "main_metric_type": "binomial",
        }
        for name in CONVERSIONS
    } | {
        name: {
            "id": name,
            "name": name,
            "statistic_type": "mean_ra",
            "main_metric_type": "count",
            "covariate_metric_type": "count",
        }
        for name in CONTINUOUS
    }
    return {
        "metrics": metrics,
        "analyses": [
            {
                "var_names": list(VARIANTS),
                "var_ids": ["0", "1", "2"],
                "weights": [1 / 3] * 3,
                "stats_engine": "frequentist",
                "sequential_testing_enabled": True,
                "difference_type": "relative",
            }
        ],
        "query_results": [{"rows": rows, "metrics": names}],
    }


def main() -> None:
    from gbstats.gbstats import process_experiment_results

    sums = make_sums()
    payload = gbstats_payload(sums)
    corrections = ("bonferroni", "holm", "benjamini_hochberg")
    experiments = {c: definition(c) for c in corrections}

    start = time.perf_counter()
    analyze(experiments["bonferroni"], sums)
    cold = time.perf_counter() - start
    print(f"splitlab first analysis (computes and caches the boundaries): {cold * 1e3:.1f} ms")

    loops = 50
    cases: dict[str, Any] = {}
    for c in corrections:
        exp = experiments[c]
        cases[f"splitlab analyze ({c})"] = lambda exp=exp: [
            analyze(exp, sums) for _ in range(loops)
        ]
    cases["splitlab analyze + to_dict (bonferroni)"] = lambda: [
        analyze(experiments["bonferroni"], sums).to_dict() for _ in range(loops)
    ]
    cases["gbstats process_experiment_results"] = lambda: [
        process_experiment_results(payload) for _ in range(loops)
    ]
    results = compare(cases, ops_per_round=loops, rounds=7)
    report(
        "stats: 3 variants x 10 metrics (5 conversion, 5 CUPED), OBF spending, from sums",
        results,
        baseline="gbstats process_experiment_results",
    )
    gb = next(m for m in results if m.name.startswith("gbstats"))
    for m in results:
        if m.name.startswith("splitlab"):
            print(f"{m.name}: {gb.median / m.median:.0f}x faster than gbstats")
    # CPU time (best of 5) is steadier than wall time on a shared machine.
    ours = _cpu(lambda: analyze(experiments["bonferroni"], sums), 200)
    theirs = _cpu(lambda: process_experiment_results(payload), 5)
    print(
        f"CPU time per analysis, best of 5: splitlab {ours * 1e3:.3f} ms, "
        f"gbstats {theirs * 1e3:.1f} ms ({theirs / ours:.0f}x)"
    )


def _cpu(fn: Any, loops: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(loops):
            fn()
        best = min(best, (time.process_time() - start) / loops)
    return best


if __name__ == "__main__":
    main()
