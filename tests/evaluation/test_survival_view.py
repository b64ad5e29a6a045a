"""The ``curves`` block of a look (retention and time-to-event metrics), from sums set by hand:
counts pass through, rates are retained / eligible, the RMST per arm matches lifelines and the
Kaplan-Meier points are lifelines' survival function."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from splitlab.config import Experiment, parse_experiment
from splitlab.evaluation.survival_view import curve_lines, curves_block, retention_sentence
from splitlab.stats.sums import ArmSums, ExperimentSums
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable

TAU = 72.0


def experiment() -> Experiment:
    return parse_experiment(
        {
            "experimentId": "exp-lifetimes",
            "status": "running",
            "variants": ["control", "treatment"],
            "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
            "metrics": {
                "primary": {"name": "day7_return", "type": "retention", "retention": {"day": 7}},
                "secondary": [
                    {"name": "checkout_conv", "type": "conversion"},
                    {
                        "name": "time_to_order",
                        "type": "time_to_event",
                        "horizonHours": TAU,
                        "direction": "decrease",
                    },
                ],
            },
            "evaluation": {"maxPeeks": 3, "minSampleSize": 100},
        }
    )


def durations(seed: int, scale: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times, censored at a uniform follow-up and at the horizon."""
    rng = np.random.default_rng(seed)
    event = np.round(rng.exponential(scale, n), 1) + 0.1
    follow = np.round(rng.uniform(10.0, 120.0, n), 1)
    stop = np.minimum(follow, TAU)
    return np.minimum(event, stop), event <= stop


def sums() -> tuple[ExperimentSums, dict[str, tuple[np.ndarray, np.ndarray]]]:
    raw = {"control": durations(1, 60.0, 400), "treatment": durations(2, 40.0, 380)}
    tte = {
        v: ArmSums(float(len(d)), 0.0, 0.0,
                   survival=SurvivalTable.from_durations(d.tolist(), seen.tolist()))
        for v, (d, seen) in raw.items()
    }  # fmt: skip
    retention = {
        "control": ArmSums(812.0, 300.0, 300.0, retention=RetentionCurve(
            (0, 1, 7), (1000.0, 990.0, 812.0), (400.0, 350.0, 300.0))),
        "treatment": ArmSums(790.0, 330.0, 330.0, retention=RetentionCurve(
            (0, 1, 7), (1010.0, 1000.0, 790.0), (420.0, 380.0, 330.0))),
    }  # fmt: skip
    out = ExperimentSums(
        {"control": 1000.0, "treatment": 1010.0},
        {"day7_return": retention, "time_to_order": tte},
        "exp-lifetimes",
        1,
    )
    return out, raw


RESULTS: dict[str, Any] = {
    "metrics": [
        {
            "name": "time_to_order",
            "comparisons": [
                {
                    "variant": "treatment",
                    "control": "control",
                    "estimable": True,
                    "significant": True,
                    "absolute": {"estimate": -7.5, "lower": -11.25, "upper": -3.75},
                }
            ],
        }
    ]
}


def test_only_retention_and_time_to_event_metrics_get_a_block() -> None:
    block = curves_block(experiment(), sums()[0], RESULTS)
    assert block is not None
    assert list(block) == ["day7_return", "time_to_order"]


def test_retention_arms_count_eligible_units_out_of_the_arms_units() -> None:
    block = curves_block(experiment(), sums()[0], RESULTS)
    assert block is not None
    ret = block["day7_return"]
    assert (ret["type"], ret["day"], ret["days"], ret["window"]) == ("retention", 7, 1, "day-7")
    control, treatment = ret["arms"]
    assert control["text"] == "eligible: 812 of 1,000 units (188 still in their day-7 window)"
    assert (control["eligible"], control["stillInWindow"], control["retained"]) == (812, 188, 300)
    assert control["rate"] == pytest.approx(300 / 812)
    assert treatment["stillInWindow"] == 220
    assert treatment["curve"] == {
        "days": [0, 1, 7],
        "eligible": [1010, 1000, 790],
        "retained": [420, 380, 330],
        "rate": [420 / 1010, 380 / 1000, 330 / 790],
    }


def test_several_days_name_the_window_by_its_first_and_last_day() -> None:
    assert retention_sentence(5.0, 1234.0, "days 7-13") == (
        "eligible: 5 of 1,234 units (1,229 still in their days 7-13 window)"
    )


def test_time_to_event_rmst_and_curve_match_lifelines() -> None:
    found, raw = sums()
    block = curves_block(experiment(), found, RESULTS)
    assert block is not None
    tte = block["time_to_order"]
    assert tte["horizonHours"] == TAU
    for arm in tte["arms"]:
        d, seen = raw[arm["variant"]]
        assert arm["units"] == len(d)
        assert arm["events"] == int(seen.sum())
        assert arm["censored"] == int((~seen).sum())
        fitter = KaplanMeierFitter().fit(d, seen)
        # Reference: lifelines' restricted_mean_survival_time (area under its KM curve).
        assert arm["rmstHours"] == pytest.approx(
            restricted_mean_survival_time(fitter, t=TAU), rel=1e-9
        )
        assert arm["rmstStandardError"] > 0
        hours, survival = arm["curve"]["hours"], arm["curve"]["survival"]
        assert hours[0] == 0.0 and survival[0] == 1.0
        assert hours[-1] == pytest.approx(min(TAU, float(d.max())))
        assert all(a <= b for a, b in itertools.pairwise(hours))
        assert all(a >= b for a, b in itertools.pairwise(survival))
        # Each point is lifelines' S just after that time.
        for t, s in zip(hours, survival, strict=True):
            assert s == pytest.approx(float(fitter.survival_function_at_times(t).iloc[0]))
    (diff,) = tte["differences"]
    assert diff["differenceHours"] == {"estimate": -7.5, "lower": -11.25, "upper": -3.75}


def test_cli_lines_say_eligible_counts_rmst_and_the_difference() -> None:
    block = curves_block(experiment(), sums()[0], RESULTS)
    lines = curve_lines(block)
    assert "  control: eligible: 812 of 1,000 units (188 still in their day-7 window); " \
        "retained 36.9%" in lines  # fmt: skip
    assert any(
        line.startswith("time_to_order (time to event, RMST up to 72.0 h)") for line in lines
    )
    assert "  treatment - control: RMST difference -7.5 h (interval -11.2 h to -3.8 h)" in lines


def test_an_arm_without_data_shows_zero_counts_and_no_curve() -> None:
    found, _ = sums()
    metrics = dict(found.metrics)
    metrics["time_to_order"] = {"control": found.metrics["time_to_order"]["control"]}
    block = curves_block(
        experiment(), ExperimentSums(found.units, metrics, "exp-lifetimes", 1), RESULTS
    )
    assert block is not None
    empty = block["time_to_order"]["arms"][1]
    assert (empty["units"], empty["rmstHours"], empty["curve"]["hours"]) == (0, None, [])
