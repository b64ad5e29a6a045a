"""Shared builders for the statistics tests: experiments and sums from raw simulated data."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from splitlab.config import Experiment, load_experiment
from splitlab.stats import ArmSums, ExperimentSums

BASE: dict[str, Any] = {
    "experimentId": "exp-stats",
    "name": "stats test",
    "status": "running",
    "trafficAllocation": 1.0,
    "variants": ["control", "variant-a", "variant-b"],
    "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
    "metrics": {
        "primary": {"name": "conv", "type": "conversion", "direction": "increase"},
        "secondary": [{"name": "revenue", "type": "continuous"}],
        "guardrails": [{"name": "errors", "threshold": 0.02, "action": "rollback"}],
    },
    "evaluation": {
        "method": "frequentist_t_test",
        "alpha": 0.05,
        "correction": "bonferroni",
        "maxPeeks": 5,
        "minSampleSize": 1000,
        "sequential": {"method": "none"},
    },
}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def experiment(**over: Any) -> Experiment:
    """The base experiment with nested overrides (camelCase keys, as on the wire)."""
    return load_experiment(_merge(BASE, over))


def sums_from_arrays(
    data: Mapping[str, Mapping[str, Any]],
    experiment_id: str = "exp-stats",
    look: int | None = None,
    units: Mapping[str, float] | None = None,
) -> ExperimentSums:
    """Sums from raw per-unit values: ``{metric: {variant: values | (values, covariate)}}``."""
    metrics: dict[str, dict[str, ArmSums]] = {}
    counts: dict[str, float] = {}
    for name, arms in data.items():
        metrics[name] = {}
        for variant, values in arms.items():
            if isinstance(values, tuple):
                arm = ArmSums.from_values(*values)
            else:
                arm = ArmSums.from_values(values)
            metrics[name][variant] = arm
            counts[variant] = max(counts.get(variant, 0.0), arm.n)
    return ExperimentSums(dict(units or counts), metrics, experiment_id, look)


def simulate(
    rng: np.random.Generator,
    n: int,
    variants: Sequence[str] = ("control", "variant-a", "variant-b"),
    rates: Sequence[float] = (0.1, 0.1, 0.1),
    means: Sequence[float] = (10.0, 10.0, 10.0),
    error_rates: Sequence[float] = (0.01, 0.01, 0.01),
) -> dict[str, dict[str, np.ndarray]]:
    """Raw data for the base experiment's three metrics."""
    out: dict[str, dict[str, np.ndarray]] = {"conv": {}, "revenue": {}, "errors": {}}
    for v, r, m, e in zip(variants, rates, means, error_rates, strict=True):
        out["conv"][v] = (rng.random(n) < r).astype(float)
        out["revenue"][v] = rng.gamma(2.0, m / 2.0, n)
        out["errors"][v] = (rng.random(n) < e).astype(float)
    return out


def counts(**arms: tuple[float, float]) -> dict[str, ArmSums]:
    """Conversion sums from (units, conversions) per variant (keys use _ for -)."""
    return {k.replace("_", "-"): ArmSums(n, x, x) for k, (n, x) in arms.items()}


def scenario(
    conv: Mapping[str, tuple[float, float]],
    errors: Mapping[str, tuple[float, float]] | None = None,
    revenue: Mapping[str, tuple[float, float, float]] | None = None,
    units: Mapping[str, float] | None = None,
    look: int | None = 1,
) -> ExperimentSums:
    """Sums for the base experiment: conversions, error counts and revenue (n, sum, sumSq)."""
    conv_sums = {v: ArmSums(n, x, x) for v, (n, x) in conv.items()}
    errors = errors or {v: (n, round(n * 0.01)) for v, (n, _) in conv.items()}
    revenue = revenue or {v: (n, 10.0 * n, 150.0 * n) for v, (n, _) in conv.items()}
    metrics = {
        "conv": conv_sums,
        "errors": {v: ArmSums(n, x, x) for v, (n, x) in errors.items()},
        "revenue": {v: ArmSums(n, s, ss) for v, (n, s, ss) in revenue.items()},
    }
    counted = dict(units or {v: n for v, (n, _) in conv.items()})
    return ExperimentSums(counted, metrics, "exp-stats", look)
