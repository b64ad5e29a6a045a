"""`splitlab power`: units per variant, detectable effect and duration before launching."""

from __future__ import annotations

import json
import math
from typing import Any

import click

from splitlab.config import load_experiment
from splitlab.stats.power import (
    conversion_sd,
    design_effect,
    duration_days,
    minimum_detectable_effect,
    sample_size,
)


@click.command()
@click.argument("experiment", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--baseline",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Conversion metrics: the control's conversion rate, e.g. 0.10.",
)
@click.option(
    "--sd",
    type=click.FloatRange(0, min_open=True),
    help="Continuous metrics: the metric's standard deviation per unit.",
)
@click.option(
    "--mde",
    type=click.FloatRange(0, min_open=True),
    help="The smallest effect worth detecting: relative to the baseline for "
    "conversion metrics (0.05 = +5%) unless --absolute; in the metric's units with --sd.",
)
@click.option("--absolute", is_flag=True, help="--mde is an absolute change of the rate.")
@click.option(
    "--units",
    type=click.IntRange(2),
    help="Units per variant you can get: print the detectable effect instead.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Two-sided level (default: the definition's, else 0.05).",
)
@click.option(
    "--power",
    "target",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Wanted power (default: the definition's, else 0.8).",
)
@click.option(
    "--variants",
    type=click.IntRange(2),
    help="Arms including control (default: the definition's, else 2).",
)
@click.option(
    "--daily-units",
    type=click.FloatRange(0, min_open=True),
    help="Units a day that reach the experiment's targeting: print the duration.",
)
@click.option(
    "--icc",
    type=click.FloatRange(0, 1),
    help="Cluster designs: the intra-cluster correlation of the metric (needs --cluster-size); "
    "prints clusters per variant.",
)
@click.option(
    "--cluster-size",
    type=click.FloatRange(1),
    help="Cluster designs: the mean number of analysis units per cluster.",
)
@click.option(
    "--cluster-size-cv",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Cluster designs: the coefficient of variation (sd / mean) of the cluster sizes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def power(
    experiment: str | None,
    baseline: float | None,
    sd: float | None,
    mde: float | None,
    absolute: bool,
    units: int | None,
    alpha: float | None,
    target: float | None,
    variants: int | None,
    daily_units: float | None,
    icc: float | None,
    cluster_size: float | None,
    cluster_size_cv: float,
    as_json: bool,
) -> None:
    """Plan a test: units per variant for an effect (or the effect for a sample), and days.

    With EXPERIMENT.json, alpha, power, the variants, the traffic allocation and the
    correction come from the definition: under Bonferroni or Holm each comparison of the
    family (variants x primary and secondary metrics) is planned at alpha / m, which is what
    makes many variants or metrics cost power (the article's pitfall 3).

    With --icc and --cluster-size (a cluster design), units are analysis units and the sample
    is inflated by the design effect 1 + ((CV^2 + 1) m - 1) ICC (Eldridge, Ashby & Kerry
    2006); clustersPerVariant is what minSampleSize counts in a cluster design.
    """
    plan = _plan(experiment, alpha, target, variants)
    if (icc is None) != (cluster_size is None):
        raise click.UsageError("give --icc and --cluster-size together (a cluster design)")
    deff = 1.0 if icc is None or cluster_size is None else (
        design_effect(icc, cluster_size, cluster_size_cv))  # fmt: skip
    if (baseline is None) == (sd is None):
        raise click.UsageError("give exactly one of --baseline (conversion) or --sd (continuous)")
    if (mde is None) == (units is None):
        raise click.UsageError(
            "give exactly one of --mde (to get units) or --units (to get the MDE)"
        )
    level = plan["alpha"] / plan["comparisons"]
    out: dict[str, Any] = {**plan, "testLevel": level}
    if cluster_size is not None:
        out["designEffect"] = deff
    if units is not None:
        d = minimum_detectable_effect(units / deff, level, plan["power"])
        out["unitsPerVariant"] = units
        if sd is not None:
            out["mde"] = d * sd
        else:
            assert baseline is not None
            out["mdeAbsolute"] = _conversion_mde(baseline, d)
            out["mdeRelative"] = out["mdeAbsolute"] / baseline
        n = float(units)
        if cluster_size is not None:
            out["clustersPerVariant"] = units / cluster_size
    else:
        assert mde is not None
        if sd is not None:
            d = mde / sd
        else:
            assert baseline is not None
            p1 = baseline + mde if absolute else baseline * (1.0 + mde)
            if not 0 < p1 < 1:
                raise click.BadParameter(
                    f"the rate would become {p1:g}, outside (0, 1)", param_hint="--mde"
                )
            d = (p1 - baseline) / conversion_sd(baseline, p1)
        n = float(math.ceil(sample_size(d, level, plan["power"]) * deff))
        if cluster_size is not None:
            clusters = math.ceil(n / cluster_size)
            out["clustersPerVariant"] = clusters
            out["totalClusters"] = clusters * plan["variants"]
            n = float(math.ceil(clusters * cluster_size))
        out["unitsPerVariant"] = int(n)
        out["totalUnits"] = int(n) * plan["variants"]
    if daily_units is not None:
        out["durationDays"] = duration_days(
            n, plan["variants"], daily_units, plan["trafficAllocation"]
        )
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for key, value in out.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        click.echo(f"{key:>18}: {shown}")


def _plan(
    path: str | None, alpha: float | None, target: float | None, variants: int | None
) -> dict[str, Any]:
    if path is None:
        return {
            "alpha": alpha or 0.05,
            "power": target or 0.8,
            "variants": variants or 2,
            "trafficAllocation": 1.0,
            "comparisons": 1,
            "correction": "none",
        }
    exp = load_experiment(path)
    arms = variants or len(exp.variants)
    family = (arms - 1) * (1 + len(exp.metrics.secondary))
    corrected = exp.evaluation.correction in {"bonferroni", "holm"}
    return {
        "alpha": alpha or exp.evaluation.alpha,
        "power": target or exp.evaluation.power,
        "variants": arms,
        "trafficAllocation": exp.traffic_allocation,
        "comparisons": family if corrected else 1,
        "correction": exp.evaluation.correction,
    }


def _conversion_mde(baseline: float, d: float) -> float:
    """The absolute rise of a conversion rate whose standardised size is d (solved exactly)."""
    from scipy import optimize

    def gap(delta: float) -> float:
        return delta / conversion_sd(baseline, baseline + delta) - d

    top = 1.0 - baseline - 1e-12
    if gap(top) < 0:
        raise click.UsageError(
            f"with so few units no rise of a {baseline:g} rate is detectable (standardised "
            f"effect needed: {d:.3g}); use more units per variant"
        )
    return float(optimize.brentq(gap, 1e-12, top))
