"""The canary and bandit panels from API documents built here (the shapes of
``GET /v1/experiments/{id}/canary`` and ``/bandit``), rendered with the app's own templates,
and both pages served by the whole app for a canary and a bandit registered through the API.

The panels over the demo's real ramp and weights history are checked in
tests/server/test_demo_adaptive.py.
"""

from __future__ import annotations

import html as htmllib
import re
from importlib import resources
from typing import Any

import msgspec
import numpy as np
import pytest

from splitlab.config import Experiment, Status, load_experiment
from splitlab.server.dashboard import adaptive_charts, bandit, canary, designs, templates
from splitlab.stats.sketch import Sketch

from .server_helpers import Api


def _demo(name: str) -> Experiment:
    text = resources.files("splitlab.demo").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return load_experiment(msgspec.json.decode(text))


def _text(markup: str) -> str:
    """Visible text: tags removed, entities decoded, whitespace collapsed."""
    without = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", without)))


def _diff(name: str, kind: str, verdict: str, **extra: Any) -> dict[str, Any]:
    base = {
        "name": name, "kind": kind, "verdict": verdict, "estimate": 0.01, "lower": -0.02,
        "upper": 0.04, "scale": "relative", "tolerance": 0.1, "toleranceType": "relative",
        "badDirection": "increase", "baselineValue": 40.0, "canaryValue": 40.4,
        "baselineN": 5000, "canaryN": 5100, "reason": f"{name}: {verdict}",
    }  # fmt: skip
    base.update(extra)
    return base


LATENCY = np.random.default_rng(3).lognormal(np.log(40.0), 0.4, 4000)
SLOW = np.concatenate([LATENCY[:3880], LATENCY[3880:] + 400.0])  # 3 % slow requests

CANARY_DOC: dict[str, Any] = {
    "experimentId": "exp-orders-db-migration",
    "status": "rolled_back",
    "intervalMinutes": 5,
    "step": {
        "index": 2,
        "percent": 25,
        "startedAt": "2026-03-19T07:00:00Z",
        "minMinutes": 60,
        "minRequests": 5000,
    },
    "ramp": [
        {
            "percent": 1,
            "minMinutes": 30,
            "minRequests": 500,
            "startedAt": "2026-03-19T06:00:00Z",
            "endedAt": "2026-03-19T06:30:00Z",
            "outcome": "passed",
        },
        {
            "percent": 5,
            "minMinutes": 30,
            "minRequests": 2000,
            "startedAt": "2026-03-19T06:30:00Z",
            "endedAt": "2026-03-19T07:00:00Z",
            "outcome": "passed",
        },
        {
            "percent": 25,
            "minMinutes": 60,
            "minRequests": 5000,
            "startedAt": "2026-03-19T07:00:00Z",
            "endedAt": "2026-03-19T07:10:00Z",
            "outcome": "failed",
        },
        {
            "percent": 50,
            "minMinutes": 60,
            "minRequests": 10000,
            "startedAt": None,
            "endedAt": None,
            "outcome": "pending",
        },
        {
            "percent": 100,
            "minMinutes": None,
            "minRequests": 0,
            "startedAt": None,
            "endedAt": None,
            "outcome": "pending",
        },
    ],
    "judgments": [
        {
            "at": "2026-03-19T06:30:00Z",
            "step": 0,
            "percent": 1,
            "verdict": "pass",
            "action": "advance",
            "reason": "every metric within tolerance",
            "metrics": [_diff("error_rate", "proportion", "pass")],
        },
        {
            "at": "2026-03-19T07:10:00Z",
            "step": 2,
            "percent": 25,
            "verdict": "fail",
            "action": "rollback",
            "reason": "latency_p99 rose beyond its tolerance of 15 % <b>",
            "metrics": [
                _diff(
                    "error_rate",
                    "proportion",
                    "pass",
                    scale="absolute",
                    estimate=0.0004,
                    lower=-0.001,
                    upper=0.0018,
                    tolerance=0.005,
                    toleranceType="absolute",
                    baselineValue=0.002,
                    canaryValue=0.0024,
                ),
                _diff("latency", "mann_whitney", "marginal", scale="shift"),
                _diff(
                    "latency_p99",
                    "quantile",
                    "fail",
                    estimate=1.8,
                    lower=1.2,
                    upper=2.5,
                    tolerance=0.15,
                    baselineValue=120.0,
                    canaryValue=336.0,
                ),
            ],
        },
    ],
    "distributions": {
        "latency": {
            "baseline": Sketch.from_values(LATENCY).to_dict(),
            "canary": Sketch.from_values(SLOW).to_dict(),
        },
        "latency_p99": {
            "baseline": Sketch.from_values(LATENCY).to_dict(),
            "canary": Sketch.from_values(SLOW).to_dict(),
        },
    },
}


def test_the_canary_panel_shows_the_ramp_the_verdicts_and_the_distributions() -> None:
    """Ramp steps with percent, times and outcome; the latest judgment's table with every
    verdict in words (not colour alone); the reason escaped; the two latency curves."""
    e = _demo("exp-orders-db-migration")
    view = canary.panel(e, CANARY_DOC)
    page = templates.get_template("_canary.html").render(canary=view, experiment=e)
    text = _text(page)
    steps = re.findall(r'<tr data-step="(\d)" data-outcome="(\w+)"', page)
    assert steps == [("1", "passed"), ("2", "passed"), ("3", "failed"), ("4", "pending"),
                     ("5", "pending")]  # fmt: skip
    assert "failed: rolled back" in text and "100 % (promote)" in text
    assert "2026-03-19 07:00" in text and "2026-03-19 07:10" in text
    assert "50 %" in text  # the 25 % step serves 25 % canary and 25 % baseline
    verdicts = re.findall(r'<tr data-metric="(\w+)" data-verdict="(\w+)"', page)
    assert verdicts == [("error_rate", "pass"), ("latency", "marginal"), ("latency_p99", "fail")]
    for words in ("pass: within tolerance", "marginal: not yet shown either way",
                  "fail: beyond tolerance"):  # fmt: skip
        assert words in text
    assert "fail: beyond tolerance; roll back to the baseline." in text
    assert "latency_p99 rose beyond its tolerance of 15 % <b>" in text  # shown, escaped
    assert "<b>" not in page.replace("<br>", "")
    assert "+180 %" in text and "[+120 %, +250 %]" in text  # relative, in percent
    row = re.search(r'data-metric="latency".*?</tr>', page, re.S)
    assert row is not None and "[-2 %, +4 %]" in _text(row.group(0))  # a relative shift
    assert "+0.04 pt" in text and "0.2 %" in text  # a proportion in points and percent
    assert "a rise of at most 0.5 pt" in text and "a rise of at most 15 %" in text
    [shared] = view["distributions"]  # two metrics of one event: one chart
    assert shared["name"] == "latency, latency_p99"
    svg = shared["chart"]
    counts = dict(re.findall(r'data-series="(\w+)" data-count="(\d+)"', svg))
    assert counts == {"baseline": "4000", "canary": "4000"}
    marks = re.findall(r'data-series="(\w+)" data-p="([\d.]+)" data-value="([\d.e+-]+)"', svg)
    p99 = {s: float(v) for s, p, v in marks if p == "0.99"}
    # The slow 3 % put the canary's p99 above 400 ms; the baseline's p99 is
    # exp(ln 40 + 2.326 * 0.4) = 101 ms (normal quantile 2.326, e.g. scipy.stats.norm.ppf).
    assert p99["canary"] > 400 and 85 < p99["baseline"] < 120
    assert p99["baseline"] == Sketch.from_values(LATENCY).quantile(0.99)
    history = re.findall(r'<tr data-action="(\w+)">', page)
    assert history == ["rollback", "advance"]  # newest first


def test_the_canary_panel_before_any_judgment_shows_the_definitions_ramp() -> None:
    e = _demo("exp-orders-db-migration")
    view = canary.panel(e, None)
    text = _text(templates.get_template("_canary.html").render(canary=view, experiment=e))
    assert "The canary monitor has recorded nothing yet." in text
    assert [r["percent"] for r in view["ramp"]] == ["1 %", "5 %", "25 %", "50 %", "100 %"]
    assert {r["outcome"] for r in view["ramp"]} == {"pending"}
    assert designs.label(e) == "canary: step 1 of 4 (1 %)"


def test_the_cdf_chart_steps_through_every_bucket_on_a_log_axis() -> None:
    """Each curve ends at 1 (all observations) and rises once per bucket; no data is a
    message, not an empty axis."""
    sketch = Sketch.from_values([1.0, 10.0, 10.0, 100.0])
    svg = adaptive_charts.cdf_chart([("baseline", sketch)], "t")
    points = re.search(r'data-series="baseline" data-count="4" points="([^"]+)"', svg)
    assert points is not None
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert len(ys) == 2 * 3  # three buckets, a vertical step each
    assert ys == sorted(ys, reverse=True)  # SVG y grows downwards: the curve only rises
    assert "No observations" in adaptive_charts.cdf_chart([("a", Sketch())], "t")


def _update(version: int, weights: dict[str, float], **srm: Any) -> dict[str, Any]:
    arms = {
        arm: {"units": 1000 * version, "rewardMean": 0.1 + 0.01 * i,
              "posterior": {"alpha": 1 + 10 * (i + 1) * version,
                            "beta": 1 + 90 * version}, "pBest": w, "weight": w}
        for i, (arm, w) in enumerate(weights.items())
    }  # fmt: skip
    return {
        "version": version, "at": f"2026-03-1{version}T09:00:00Z",
        "cutoff": f"2026-03-1{version}T09:00:00Z", "seed": 100 + version, "epsilon": 0.2,
        "burnIn": version == 1, "arms": arms,
        "srm": {"pValue": srm.get("p", 0.5), "detected": srm.get("detected", False),
                "counts": {a: 1000 for a in weights}, "expected": {a: 1000.0 for a in weights}},
    }  # fmt: skip


ARMS = ("control", "short-list", "video-first", "progress-bar")
BANDIT_DOC: dict[str, Any] = {
    "experimentId": "exp-onboarding-bandit",
    "status": "running",
    "weightsVersion": 3,
    "updates": [
        _update(1, dict.fromkeys(ARMS, 0.25)),
        _update(2, dict(zip(ARMS, (0.15, 0.2, 0.3, 0.35), strict=True)), p=0.0004, detected=True),
        _update(3, dict(zip(ARMS, (0.05, 0.1, 0.25, 0.6), strict=True))),
    ],
    "readout": {
        "method": "batched studentised estimates",
        "comparisons": [
            {
                "arm": "progress-bar",
                "control": "control",
                "estimate": 0.03,
                "lower": 0.01,
                "upper": 0.05,
            }
        ],
        "regret": 12.5,
        "note": "estimates for information",
    },
}


def test_the_bandit_panel_shows_weights_posteriors_srm_and_the_plain_statement() -> None:
    e = _demo("exp-onboarding-bandit")
    view = bandit.panel(e, BANDIT_DOC)
    page = templates.get_template("_bandit.html").render(bandit=view, experiment=e)
    text = _text(page)
    assert "optimises reward while it runs rather than testing a hypothesis" in text
    assert re.findall(r'<tr data-arm="([\w-]+)"', page)[:4] == list(ARMS)
    lines = dict(re.findall(r'data-series="([\w-]+)" data-points="3" data-last="([\d.]+)"',
                            view["weights_chart"]))  # fmt: skip
    assert lines == {"control": "0.05", "short-list": "0.1", "video-first": "0.25",
                     "progress-bar": "0.6"}  # fmt: skip
    assert "most likely best" in text and re.search(r'data-arm="progress-bar" class="best"', page)
    assert "60.00%" in text or "60%" in text
    assert "1 of 3 updates found a sample ratio mismatch" in text
    assert re.search(r'<tr data-version="2" class="bad">', page)
    assert "Estimated regret: 12.5 (total setup_completed lost" in text
    assert "Weights version 3 after 3 updates" in text


@pytest.mark.parametrize(
    ("posterior", "expected"),
    [
        # Beta(1, 1) is uniform: the 95 % interval is [0.025, 0.975], mean 1/2.
        ({"alpha": 1, "beta": 1}, (0.5, 0.025, 0.975)),
        # Beta(2, 1) has CDF x^2: quantiles sqrt(0.025) and sqrt(0.975), mean 2/3.
        ({"alpha": 2, "beta": 1}, (2 / 3, 0.025**0.5, 0.975**0.5)),
        # Normal: mean +- 1.959964 sd (standard normal table).
        ({"mean": 0.3, "sd": 0.01}, (0.3, 0.3 - 0.01959964, 0.3 + 0.01959964)),
        ({"mean": 0.3, "lower": 0.2, "upper": 0.4}, (0.3, 0.2, 0.4)),
        ({"something": 1}, None),
    ],
)
def test_posterior_intervals_against_closed_forms(
    posterior: dict[str, Any], expected: tuple[float, float, float] | None
) -> None:
    got = bandit.posterior_interval(posterior)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-7)


def test_the_bandit_panel_before_any_update() -> None:
    e = _demo("exp-onboarding-bandit")
    view = bandit.panel(e, None)
    text = _text(templates.get_template("_bandit.html").render(bandit=view, experiment=e))
    assert "No weight update yet." in text and "No update yet" in text
    assert designs.label(e) == "bandit: 4 arms, weights v0"


def _sign_in(api: Api) -> None:
    r = api.client.post("/login", data={"key": api.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


@pytest.mark.parametrize(
    ("name", "panel", "label"),
    [
        ("exp-orders-db-migration", "canary", "canary: step 1 of 4 (1 %)"),
        ("exp-onboarding-bandit", "bandit", "bandit: 4 arms, weights v0"),
    ],
)
def test_the_pages_of_a_registered_canary_and_bandit(
    api: Api, name: str, panel: str, label: str
) -> None:
    """Registered through the API, each has its panel on its page and its label in the list;
    the design's sentence says what it is."""
    text = resources.files("splitlab.demo").joinpath(f"{name}.json").read_text(encoding="utf-8")
    raw = msgspec.json.decode(text)
    raw.pop("trafficAllocation", None)
    r = api.client.post("/v1/experiments", json=raw, headers=api.admin)
    assert r.status_code == 201, r.text
    _sign_in(api)
    page = api.client.get(f"/experiments/{name}")
    assert page.status_code == 200
    assert f'id="{panel}" data-design="{panel}"' in page.text
    other = {"canary": "bandit", "bandit": "canary"}[panel]
    assert f'id="{other}"' not in page.text
    listing = _text(api.client.get("/").text)
    assert label in listing
    assert 'id="progress"' not in page.text and 'id="primary"' not in page.text
    if panel == "bandit":
        assert "it optimises reward rather than testing a hypothesis" in _text(page.text)
        assert "No weight update yet" in _text(page.text)
    else:
        assert "Canary release: the ramp 1 % → 5 % → 25 % → 50 % → 100 %" in _text(page.text)
        assert "Step 1 of 4 (1 %): waiting for the first judgment" in _text(page.text)


def test_the_list_words_a_canary_and_a_bandit_by_their_state() -> None:
    """The list's headline: the canary's step and latest verdict, or where it ended; where
    the bandit sends new units and that it is not a test."""
    e = _demo("exp-orders-db-migration")
    stepped = e.model_copy(update={"design": e.design.model_copy(update={"step": 2})})  # type: ignore[union-attr]
    assert canary.summary(stepped, CANARY_DOC) == {
        "headline": "Step 3 of 4 (25 %): fail",
        "why": "latency_p99 rose beyond its tolerance of 15 % <b>",
        "progress": "step 3 of 4 · 2 judgments",
        "tone": "continue",
    }
    rolled = canary.summary(stepped.model_copy(update={"status": Status.ROLLED_BACK}), CANARY_DOC)
    assert (rolled["headline"], rolled["tone"]) == ("Rolled back at the 25 % step", "rollback")
    fresh = canary.summary(e, None)
    assert fresh["headline"] == "Step 1 of 4 (1 %): waiting for the first judgment"
    assert fresh["why"] == "No judgment yet."
    b = _demo("exp-onboarding-bandit")
    words = bandit.summary(b, BANDIT_DOC)
    assert words["headline"] == "Weights v3: progress-bar gets 60%"
    assert "does not test a hypothesis" in words["why"]
    assert words["progress"] == "3 updates · 12,000 units"
    assert bandit.summary(b, None)["headline"] == "No weight update yet"
