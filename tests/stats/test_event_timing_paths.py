"""Retention and time-to-event metrics where the engine branches on the metric type beside
analyze(): impossible sums, post-stratification and the spillover comparison."""

from __future__ import annotations

import math

import pytest

from splitlab.config import Experiment
from splitlab.evaluation.poststrat import post_stratified
from splitlab.stats import ArmSums, ExperimentSums, SumsError, analyze
from splitlab.stats.spillover import SpilloverError, design_estimate
from splitlab.stats.sums import SliceSums
from splitlab.stats.survival_table import SurvivalTable
from tests.stats.helpers import experiment

VARIANTS = ["control", "variant-a"]
RET = {"name": "d1", "type": "retention", "retention": {"day": 1}}
TTE = {"name": "ttp", "type": "time_to_event", "event": "purchase", "horizonHours": 24}


def _exp(**over: object) -> Experiment:
    return experiment(
        variants=VARIANTS,
        metrics={"primary": RET, "secondary": [TTE], "guardrails": []},
        **over,
    )


def _tte_arm(shift: float) -> ArmSums:
    table = SurvivalTable.from_durations(
        [1.0 + shift, 3.0, 5.0 + shift, 8.0, 24.0, 24.0, 24.0, 12.0],
        [True, True, True, False, False, False, False, True],
    )
    return ArmSums(table.units, 0.0, 0.0, survival=table)


def test_more_retained_than_eligible_is_refused() -> None:
    """A retention metric's sums follow the conversion rule: retained <= eligible units."""
    arms = {"control": ArmSums(100.0, 120.0, 120.0), "variant-a": ArmSums(100.0, 40.0, 40.0)}
    tte = {v: _tte_arm(0.0) for v in VARIANTS}
    sums = ExperimentSums(dict.fromkeys(VARIANTS, 150.0), {"d1": arms, "ttp": tte})
    with pytest.raises(SumsError) as info:
        analyze(_exp(), sums)
    paths = [p.path for p in info.value.problems]
    assert any(p.startswith("$.metrics.d1.control.sum") for p in paths), paths


def test_post_stratification_of_retention_and_time_to_event() -> None:
    """Post-stratified retention is the strata-weighted rate difference with the binomial
    variance of each stratum's rates over its eligible units, by hand:
    SE = sqrt(sum w^2 (p_t q_t / n_t + p_c q_c / n_c)); time to event is not post-stratified
    (with the reason)."""
    exp = _exp(segments=["country"], evaluation={"postStratify": "country"})
    strata = {
        "country=US": {"control": (400.0, 120.0), "variant-a": (410.0, 150.0)},
        "country=DE": {"control": (200.0, 40.0), "variant-a": (190.0, 50.0)},
    }
    segments = {}
    for key, arms in strata.items():
        ret = {v: ArmSums(n, x, x) for v, (n, x) in arms.items()}
        tte = {v: _tte_arm(0.5) for v in VARIANTS}
        units = {v: n + 20.0 for v, (n, _) in arms.items()}
        segments[key] = SliceSums(units, {"d1": ret, "ttp": tte})
    totals = {v: [sum(s[v][i] for s in strata.values()) for i in (0, 1)] for v in VARIANTS}
    whole_ret = {v: ArmSums(n, x, x) for v, (n, x) in totals.items()}
    sums = ExperimentSums(
        {"control": 640.0, "variant-a": 640.0},
        {"d1": whole_ret, "ttp": {v: _tte_arm(0.0) for v in VARIANTS}},
        segments=segments,
    )
    out = post_stratified(exp, sums)
    assert out is not None
    by_name = {m["name"]: m["comparisons"][0] for m in out["metrics"]}
    assert by_name["ttp"] == {
        "variant": "variant-a",
        "control": "control",
        "estimable": False,
        "reason": "time-to-event metrics are not post-stratified",
    }
    ret = by_name["d1"]
    sizes = {k: sum(s.units.values()) for k, s in segments.items()}
    total = sum(sizes.values())
    effect = var = 0.0
    for key, arms in strata.items():
        w = sizes[key] / total
        (n_c, x_c), (n_t, x_t) = arms["control"], arms["variant-a"]
        p_c, p_t = x_c / n_c, x_t / n_t
        effect += w * (p_t - p_c)
        # Binomial variance of each rate, p (1 - p) / n, as for a conversion (not the n - 1
        # sample variance of a continuous metric, which would differ by n / (n - 1)).
        var += w * w * (p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    assert ret["estimable"] is True
    assert ret["absolute"]["estimate"] == pytest.approx(effect, rel=1e-9)
    assert ret["standardError"] == pytest.approx(math.sqrt(var), rel=1e-9)


def test_spillover_refuses_the_new_types() -> None:
    exp = _exp()
    arms = {v: _tte_arm(0.0) for v in VARIANTS}
    sums = ExperimentSums(dict.fromkeys(VARIANTS, 8.0), {"ttp": arms})
    with pytest.raises(SpilloverError, match="expected a conversion, continuous or ratio"):
        design_estimate(exp, sums, "ttp")
