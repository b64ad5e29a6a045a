"""The demo's canary release and bandit end as their story says, recorded by the real canary
monitor and bandit updater over simulated time, and their dashboard pages show it.

* ``exp-orders-db-migration``: passes the 1 % and 5 % steps and is rolled back during the 25 %
  step by the canary monitor, the reason naming p99 (``latency_p99``), whose judgment failed
  while the median-sensitive Mann–Whitney metric did not; everyone gets the baseline after.
* ``exp-onboarding-bandit``: at least 3 weight versions written by the bandit updater, the
  arm that truly completes setup most often ends with the largest weight.
"""

from __future__ import annotations

import html as htmllib
import re

import pytest
from fastapi.testclient import TestClient

from splitlab.config import Status
from splitlab.config.adaptive import BanditDesign
from splitlab.demo.adaptive import BANDIT, CANARY, SETUP_RATE
from splitlab.demo.setup import DemoResult
from splitlab.evaluation.bandit import bandit_status
from splitlab.evaluation.canary_view import canary_view
from splitlab.server.app import create_app
from splitlab.store.canary_ledger import CanaryLedger

pytestmark = pytest.mark.slow


def _text(markup: str) -> str:
    without = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", without)))


def test_the_canary_is_rolled_back_at_25_percent_for_p99(demo: DemoResult) -> None:
    registry = demo.ctx.registry
    experiment = registry.get(CANARY)
    assert experiment.status is Status.ROLLED_BACK
    doc = canary_view(registry, CanaryLedger.for_store(demo.ctx.store), CANARY)
    outcomes = [(s["percent"], s["outcome"]) for s in doc["ramp"]]
    assert outcomes == [(1, "passed"), (5, "passed"), (25, "failed"), (50, "pending"),
                        (100, "pending")]  # fmt: skip
    last = doc["judgments"][-1]
    assert (last["percent"], last["verdict"], last["action"]) == (25, "fail", "rollback")
    verdicts = {m["name"]: m["verdict"] for m in last["metrics"]}
    assert verdicts["latency_p99"] == "fail"
    assert verdicts["error_rate"] != "fail"
    assert "latency_p99" in last["reason"] or "p99" in last["reason"]
    [rollback] = [c for c in registry.changes(CANARY) if c.to_value == "rolled_back"]
    assert "p99" in rollback.reason
    advances = [j for j in doc["judgments"] if j["action"] == "advance"]
    assert [j["percent"] for j in advances] == [1, 5]
    # Rolled back: everyone now gets the baseline.
    service = demo.ctx.view.service
    assert {service.assign(f"orders-u{i:06d}", CANARY).variant for i in range(40)} == {"baseline"}


def test_the_bandit_has_several_real_weight_updates(demo: DemoResult) -> None:
    registry = demo.ctx.registry
    experiment = registry.get(BANDIT)
    assert experiment.status is Status.RUNNING
    assert isinstance(experiment.design, BanditDesign)
    assert experiment.design.weights_version >= 3
    doc = bandit_status(registry, BANDIT)
    assert len(doc["updates"]) >= 3
    weights = doc["updates"][-1]["arms"]
    best = max(SETUP_RATE, key=lambda arm: SETUP_RATE[arm])
    assert max(weights, key=lambda arm: weights[arm]["weight"]) == best
    changes = [c for c in registry.changes(BANDIT) if c.kind == "bandit_update"]
    assert len(changes) == experiment.design.weights_version


def test_the_pages_show_the_ramp_history_and_the_weights_history(demo: DemoResult) -> None:
    with TestClient(create_app(demo.ctx), base_url="http://testserver") as client:
        r = client.post("/login", data={"key": demo.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        page = client.get(f"/experiments/{CANARY}").text
        steps = re.findall(r'<tr data-step="\d" data-outcome="(\w+)"', page)
        assert steps == ["passed", "passed", "failed", "pending", "pending"]
        assert re.search(r'<tr data-metric="latency_p99" data-verdict="fail"', page)
        assert "fail: beyond tolerance; roll back to the baseline." in _text(page)
        assert page.count('class="distribution"') >= 1
        page = client.get(f"/experiments/{BANDIT}").text
        assert re.findall(r'<tr data-arm="([\w-]+)"', page)[:4] == list(SETUP_RATE)
        lines = re.findall(r'data-series="([\w-]+)" data-points="(\d+)"', page)
        assert {name for name, _ in lines} == set(SETUP_RATE)
        assert all(int(points) >= 3 for _, points in lines)
        assert "rather than testing a hypothesis" in _text(page)
        listing = _text(client.get("/").text)
        assert "canary: step 3 of 4 (25 %)" in listing
