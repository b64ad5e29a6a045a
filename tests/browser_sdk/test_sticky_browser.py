"""Sticky stores of the JS SDK in real headless Chromium: real localStorage and cookies.

A sticky experiment keeps each unit's first variant across a page reload after its weights
change (50/50 -> 20/80), and a store that fails (a full localStorage, a store that throws)
answers ``sticky_unavailable`` without an uncaught page error.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser_sdk.page import BrowserPage

pytestmark = pytest.mark.browser

SDK = "sdk/js/src/index.js"
UNITS = 2000

#: Defines `definition(weights, sticky)` and `units` in the page script.
SETUP = f"""
const definition = (weights, sticky = true) => ({{
  experimentId: "exp-sticky",
  status: "running",
  variants: [{{ name: "control", weight: weights[0] }}, {{ name: "treatment", weight: weights[1] }}],
  assignment: {{ hashKey: "userId", salt: "browser-sticky", sticky }},
  metrics: {{ primary: {{ name: "conversion" }} }},
}});
const units = Array.from({{ length: {UNITS} }}, (_, i) => `user-${{i}}`);
const assignAll = (service) => units.map((u) => service.assign(u, "exp-sticky"));
"""


def first_visit(page: BrowserPage, store: str) -> list[str]:
    """Assign every unit at 50/50 with `store` (a constructor call on ``m``); the variants."""
    script = (
        SETUP
        + f"""
        const service = new m.ExperimentAssignmentService([definition([50, 50])], {{}},
          {{ sticky: {store} }});
        const answers = assignAll(service);
        if (!answers.every((a) => a.reason === "assigned")) throw new Error("not all assigned");
        return answers.map((a) => a.variant);
        """
    )
    result: list[str] = page.run_module(SDK, script)
    return result


def after_reload(page: BrowserPage, store: str) -> dict[str, Any]:
    """Reload the page, then assign every unit at 20/80 with `store` and without stickiness."""
    page.page.reload()
    script = (
        SETUP
        + f"""
        const sticky = new m.ExperimentAssignmentService([definition([20, 80])], {{}},
          {{ sticky: {store} }});
        const plain = new m.ExperimentAssignmentService([definition([20, 80], false)]);
        return {{
          sticky: assignAll(sticky).map((a) => [a.variant, a.reason]),
          plain: assignAll(plain).map((a) => a.variant),
          failures: sticky.stickyFailures,
        }};
        """
    )
    result: dict[str, Any] = page.run_module(SDK, script)
    return result


def test_variants_survive_a_reload_after_the_weights_change(browser_page: BrowserPage) -> None:
    """localStorage: every unit keeps its 50/50 variant after a reload at 20/80 (~30% would
    move without the store)."""
    store = "new m.LocalStorageStickyStore()"
    before = first_visit(browser_page, store)
    after = after_reload(browser_page, store)
    assert after["failures"] == 0
    assert [variant for variant, _ in after["sticky"]] == before
    assert {reason for _, reason in after["sticky"]} == {"assigned"}
    moved = sum(a != b for a, b in zip(after["plain"], before, strict=True))
    # |0.5 - 0.2| = 30% of units move without stickiness; 3 binomial SE of 2,000 is 3.1%
    assert abs(moved / UNITS - 0.3) <= 3 * (0.3 * 0.7 / UNITS) ** 0.5
    keys = browser_page.page.evaluate("() => Object.keys(localStorage).length")
    assert keys == UNITS
    assert browser_page.errors == []


def test_cookie_store_keeps_the_page_unit_across_a_reload(browser_page: BrowserPage) -> None:
    """A unit kept in a cookie (max-age, SameSite=Lax) keeps its variant after a reload."""
    script = (
        SETUP
        + """
        const store = new m.CookieStickyStore({ maxAgeSeconds: 3600 });
        const first = new m.ExperimentAssignmentService([definition([50, 50])], {}, { sticky: store });
        const units50 = units.slice(0, 400);
        // the unit the page is about: one whose variant the 20/80 split would change
        const plain = new m.ExperimentAssignmentService([definition([20, 80], false)]);
        const unit = units50.find((u) => first.assign(u, "exp-sticky").variant !== plain.assign(u, "exp-sticky").variant);
        return { unit, variant: first.assign(unit, "exp-sticky").variant, cookie: document.cookie };
        """
    )
    first = browser_page.run_module(SDK, script)
    cookies = browser_page.page.context.cookies()
    mine = [c for c in cookies if c["name"] == "splitlab_sticky_exp-sticky"]
    assert len(mine) == 1
    assert mine[0]["sameSite"] == "Lax"
    assert mine[0]["path"] == "/"
    assert 3500 < mine[0]["expires"] - time.time() <= 3600
    # 400 units were assigned: the cookie kept the newest that fit within 4,000 bytes
    assert len(mine[0]["name"]) + 1 + len(mine[0]["value"]) <= 4000
    browser_page.page.reload()
    script = (
        SETUP
        + f"""
        const store = new m.CookieStickyStore({{ maxAgeSeconds: 3600 }});
        const service = new m.ExperimentAssignmentService([definition([20, 80])], {{}}, {{ sticky: store }});
        const kept = store.get("exp-sticky", {first["unit"]!r});
        const a = service.assign({first["unit"]!r}, "exp-sticky");
        return {{ kept, variant: a.variant, reason: a.reason, failures: service.stickyFailures }};
        """
    )
    after = browser_page.run_module(SDK, script)
    assert after == {
        "kept": first["variant"],
        "variant": first["variant"],
        "reason": "assigned",
        "failures": 0,
    }
    assert browser_page.errors == []


def test_a_full_local_storage_answers_sticky_unavailable(browser_page: BrowserPage) -> None:
    """localStorage filled to its quota: a new unit gets no variant, counted, no page error."""
    script = (
        SETUP
        + """
        // fill the origin's quota: blocks of 512 KiB, then halves down to one character
        let i = 0;
        let full = 0;
        for (let size = 512 * 1024; size >= 1 && i < 1000; i++) {
          try {
            localStorage.setItem(`f${i}`, "x".repeat(size));
          } catch (error) {
            if (error.name !== "QuotaExceededError") throw error;
            full++;
            size = Math.floor(size / 2);
          }
        }
        const heard = [];
        const service = new m.ExperimentAssignmentService([definition([50, 50])], {},
          { sticky: new m.LocalStorageStickyStore(), onStickyFailure: (e) => heard.push(e.name) });
        const a = service.assign("user-new", "exp-sticky");
        return { fillers: i, full, variant: a.variant, reason: a.reason,
                 failures: service.stickyFailures, heard };
        """
    )
    result = browser_page.run_module(SDK, script)
    assert result["fillers"] < 1000
    assert result["full"] == 20  # the quota was reached at every size down to 1 character
    assert result["variant"] is None
    assert result["reason"] == "sticky_unavailable"
    assert result["failures"] == 1
    assert result["heard"] == ["QuotaExceededError"]
    assert browser_page.errors == []


def test_a_throwing_store_answers_sticky_unavailable(browser_page: BrowserPage) -> None:
    """A store whose get throws: every sticky answer is sticky_unavailable, and the page runs on."""
    script = (
        SETUP
        + """
        const broken = { get() { throw new DOMException("denied", "SecurityError"); },
                         put() { throw new Error("unreachable"); } };
        const service = new m.ExperimentAssignmentService([definition([50, 50])], {},
          { sticky: broken });
        const answers = assignAll(service).slice(0, 100);
        // a later task still runs: nothing escaped into the page
        await new Promise((resolve) => setTimeout(resolve, 0));
        return { reasons: [...new Set(answers.map((a) => a.reason))],
                 variants: [...new Set(answers.map((a) => a.variant))],
                 failures: service.stickyFailures };
        """
    )
    result = browser_page.run_module(SDK, script)
    assert result == {"reasons": ["sticky_unavailable"], "variants": [None], "failures": UNITS}
    assert browser_page.errors == []
