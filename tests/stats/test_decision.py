"""The decision order: data quality/SRM -> guardrails -> minSampleSize -> primary -> continue."""

from __future__ import annotations

from splitlab.stats import analyze
from tests.stats.helpers import experiment, scenario

N = 5000
FLAT = {"control": (N, 500), "variant-a": (N, 500), "variant-b": (N, 500)}
WIN_A = {"control": (N, 500), "variant-a": (N, 650), "variant-b": (N, 505)}


def test_ship_the_significantly_better_variant() -> None:
    """A variant significantly better on the primary metric, guardrails passed: ship it."""
    d = analyze(experiment(), scenario(WIN_A)).decision
    assert (d.action, d.variant) == ("ship", "variant-a")
    assert "variant-a is significantly better" in d.reasons[0]


def test_data_quality_findings_halt_first() -> None:
    """Findings from the evaluation layer halt, whatever the metrics say."""
    r = analyze(experiment(), scenario(WIN_A), data_quality=["events arrived late for day 3"])
    assert r.decision.action == "halt"
    assert r.decision.reasons == ("events arrived late for day 3.",)


def test_srm_halts_even_with_a_winner() -> None:
    """SRM makes the decision halt (the article: run SRM before evaluating metrics)."""
    units = {"control": N, "variant-a": N, "variant-b": 5600}
    d = analyze(experiment(), scenario(WIN_A, units=units)).decision
    assert d.action == "halt"
    assert "Sample ratio mismatch" in d.reasons[0]


def test_breached_guardrail_rolls_back_before_shipping() -> None:
    """A breached rollback guardrail wins over a better primary metric."""
    errors = {"control": (N, 50), "variant-a": (N, 400), "variant-b": (N, 50)}
    r = analyze(experiment(), scenario(WIN_A, errors=errors))
    assert r.comparison("errors", "variant-a").guardrail.verdict == "breached"
    assert r.decision.action == "rollback"
    assert "errors is breached by variant-a" in r.decision.reasons[0]


def test_alert_guardrail_does_not_roll_back() -> None:
    """A guardrail with action alert is reported in the reasons but does not roll back."""
    exp = experiment(
        metrics={"guardrails": [{"name": "errors", "threshold": 0.02, "action": "alert"}]}
    )
    errors = {"control": (N, 50), "variant-a": (N, 400), "variant-b": (N, 50)}
    d = analyze(exp, scenario(WIN_A, errors=errors)).decision
    assert d.action != "rollback"
    assert any("alert only" in r for r in d.reasons)


def test_below_min_sample_size_continues() -> None:
    """Below minSampleSize the answer is continue, even with a large effect."""
    small = {"control": (400, 40), "variant-a": (400, 90), "variant-b": (400, 40)}
    d = analyze(experiment(), scenario(small)).decision
    assert d.action == "continue"
    assert "400 of the 1000 planned units" in d.reasons[0]


def test_final_look_without_effect_stops() -> None:
    """At the last planned look with nothing significant: stop, keep control."""
    d = analyze(experiment(), scenario(FLAT, look=5)).decision
    assert d.action == "stop"
    assert "final planned look" in d.reasons[0]


def test_full_information_before_the_last_look_is_final() -> None:
    """Reaching minSampleSize spends all alpha (alpha*(1) = alpha), so that look is final."""
    r = analyze(experiment(), scenario(FLAT, look=2))
    assert r.final_look and r.decision.action == "stop"


def test_unknown_guardrail_blocks_shipping() -> None:
    """A winner whose guardrail is not yet shown safe is not shipped."""
    exp = experiment(
        metrics={"guardrails": [{"name": "errors", "threshold": 0.001, "action": "rollback"}]}
    )
    r = analyze(exp, scenario(WIN_A))
    assert r.comparison("errors", "variant-a").guardrail.verdict == "unknown"
    assert r.decision.action == "continue"
    assert "not yet shown to be safe" in r.decision.reasons[0]


def test_every_reason_is_a_sentence() -> None:
    """Reasons are plain sentences: capitalised or a name, ending with a full stop."""
    for conv in (WIN_A, FLAT):
        for reason in analyze(experiment(), scenario(conv, look=5)).decision.reasons:
            assert reason.endswith(".") and len(reason.split()) > 5
