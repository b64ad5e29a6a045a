"""The demo's welcome offer on its experiment page (six simulated days, in-process): the
Kaplan-Meier and retention charts are drawn per arm from the latest look's ``curves`` block,
whose counts add up to the look's units, and in six days nobody is eligible for day 7 yet."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from splitlab.demo.lifetimes import WELCOME
from splitlab.demo.setup import DemoResult
from splitlab.evaluation.look_view import results_view
from splitlab.server.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(demo: DemoResult) -> Iterator[tuple[str, dict]]:
    with TestClient(create_app(demo.ctx), base_url="http://testserver") as client:
        client.post("/login", data={"key": demo.admin_key, "next": "/"}, follow_redirects=False)
        html = client.get(f"/experiments/{WELCOME}").text
    latest = demo.ctx.registry.looks(WELCOME, include_peeks=False)[-1]
    yield html, results_view(latest)


def test_the_counts_of_the_curves_block_add_up(page: tuple[str, dict]) -> None:
    _, view = page
    tte = view["curves"]["time_to_first_order"]
    for arm in tte["arms"]:
        assert arm["events"] + arm["censored"] == arm["units"] == view["units"][arm["variant"]]
        assert arm["events"] > 0 and 0 < arm["rmstHours"] < 72
    retention = view["curves"]["day7_return"]
    for arm in retention["arms"]:
        # Six days of traffic: no unit has finished its day 7 (it needs 8 days).
        assert (arm["eligible"], arm["stillInWindow"]) == (0, arm["units"])
        assert arm["units"] == view["units"][arm["variant"]]
        assert arm["curve"]["days"] == list(range(8))
        eligible = arm["curve"]["eligible"]
        assert eligible[0] > eligible[1] > 0 and eligible == sorted(eligible, reverse=True)
        assert eligible[7] == 0 and arm["curve"]["rate"][7] is None


def test_the_page_draws_both_charts_per_arm(page: tuple[str, dict]) -> None:
    html, view = page
    assert re.findall(r'<path class="line km [^"]*" data-series="([^"]+)"', html) == [
        "voucher", "control"]  # fmt: skip
    assert len(re.findall(r'<polyline class="line retention', html)) == 2
    for arm in view["curves"]["day7_return"]["arms"]:
        assert f"eligible: 0 of {arm['units']:,} units ({arm['units']:,} still in" in html
    for arm in view["curves"]["time_to_first_order"]["arms"]:
        assert f"{arm['rmstHours']:,.1f} h (of {arm['units']:,} units" in html


def test_a_past_look_page_shows_that_looks_curves(demo: DemoResult) -> None:
    first = demo.ctx.registry.looks(WELCOME, include_peeks=False)[0]
    units = results_view(first)["curves"]["time_to_first_order"]["arms"][0]["units"]
    with TestClient(create_app(demo.ctx), base_url="http://testserver") as client:
        client.post("/login", data={"key": demo.admin_key, "next": "/"}, follow_redirects=False)
        html = client.get(f"/experiments/{WELCOME}/looks/{first.seq}").text
    assert 'id="curves"' in html
    assert len(re.findall(r'<path class="line km', html)) == 2
    assert f"(of {units:,} units:" in html
