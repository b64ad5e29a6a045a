// Sticky assignment (docs/assignment.md, "Sticky assignment"): a unit keeps its first variant
// when the weights change; store failures answer sticky_unavailable without an exception;
// the status still overrides. Browser stores (localStorage, cookies) are tested in Chromium
// (tests/browser_sdk/test_sticky_browser.py).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ExperimentAssignmentService, MemoryStickyStore, Reason } from "../src/index.js";

const definition = (weights, changes = {}) => ({
  experimentId: "exp-sticky",
  status: "running",
  variants: [
    { name: "control", weight: weights[0] },
    { name: "treatment", weight: weights[1] },
  ],
  assignment: { hashKey: "userId", salt: "sticky-salt", sticky: true, ...(changes.assignment ?? {}) },
  metrics: { primary: { name: "conversion" } },
  ...Object.fromEntries(Object.entries(changes).filter(([k]) => k !== "assignment")),
});
const N = 12000;
const units = Array.from({ length: N }, (_, i) => `user-${i}`);

/** Assign every unit at 50/50, then at 20/80 via update(); how many units changed variant. */
function moved(sticky) {
  const changes = { assignment: { sticky } };
  const service = new ExperimentAssignmentService([definition([50, 50], changes)]);
  const before = units.map((u) => service.assign(u, "exp-sticky").variant);
  service.update([definition([20, 80], changes)]);
  const after = units.map((u) => service.assign(u, "exp-sticky"));
  assert.ok(after.every((a) => a.reason === Reason.ASSIGNED));
  return after.filter((a, i) => a.variant !== before[i]).length;
}

const failing = (method) => ({
  get(experimentId, unitId) {
    if (method === "get") throw new DOMException("The operation is insecure.", "SecurityError");
    return null;
  },
  put() {
    throw new DOMException("quota", "QuotaExceededError");
  },
});

describe("sticky assignment", () => {
  test("a 50/50 -> 20/80 weight change moves no assigned unit when sticky", () => {
    assert.equal(moved(true), 0);
  });

  test("without stickiness the change moves |0.5 - 0.2| = 30% of units, within 3 binomial SE", () => {
    // Edges at 0.5 then 0.2 of the split: exactly the units in [0.2, 0.5) move.
    const share = moved(false) / N;
    const se = Math.sqrt((0.3 * 0.7) / N);
    assert.ok(Math.abs(share - 0.3) <= 3 * se, `moved ${share}, 3 SE ${3 * se}`);
  });

  test("a throwing store answers sticky_unavailable, counts it and tells the listener", () => {
    for (const method of ["get", "put"]) {
      const heard = [];
      const service = new ExperimentAssignmentService([definition([1, 1])], {}, {
        sticky: failing(method),
        onStickyFailure: (error, experimentId, unit) => {
          heard.push([error.name, experimentId, unit]);
          throw new Error("a broken listener changes nothing");
        },
      });
      const got = service.assign("user-1", "exp-sticky");
      assert.deepEqual([got.variant, got.reason, got.inExperiment], [null, Reason.STICKY_UNAVAILABLE, false]);
      assert.equal(service.stickyFailures, 1);
      assert.equal(heard.length, 1);
      assert.deepEqual(heard[0].slice(1), ["exp-sticky", "user-1"]);
    }
  });

  test("rollback, toggle and ship override the stored variant; draft serves nothing", () => {
    const store = new MemoryStickyStore();
    const service = new ExperimentAssignmentService([definition([1, 1])], {}, { sticky: store });
    const unit = units.find((u) => service.assign(u, "exp-sticky").variant === "treatment");
    assert.equal(store.get("exp-sticky", unit), "treatment");
    const cases = [
      [{ status: "rolled_back" }, "control", Reason.ROLLED_BACK],
      [{ forcedVariant: "control" }, "control", Reason.TOGGLED],
      [{ status: "shipped", shippedVariant: "control" }, "control", Reason.SHIPPED],
      [{ status: "paused" }, null, Reason.NOT_RUNNING],
    ];
    for (const [changes, variant, reason] of cases) {
      service.update([definition([1, 1], changes)]);
      const got = service.assign(unit, "exp-sticky");
      assert.deepEqual([got.variant, got.reason], [variant, reason]);
    }
    service.update([definition([1, 1])]);
    assert.equal(service.assign(unit, "exp-sticky").variant, "treatment");
  });

  test("only assigned answers are stored; forced units bypass the store", () => {
    const store = new MemoryStickyStore();
    const changes = { targeting: { exclude: ["bot:true"] }, trafficAllocation: 0.5, assignment: { forced: { control: ["qa"] } } };
    const service = new ExperimentAssignmentService([definition([1, 1], changes)], {}, { sticky: store });
    const reasons = new Set(units.slice(0, 500).map((u) => service.assign(u, "exp-sticky").reason));
    assert.deepEqual([...reasons].sort(), [Reason.ASSIGNED, Reason.OUTSIDE_TRAFFIC]);
    const stored = units.slice(0, 500).filter((u) => store.get("exp-sticky", u) !== null).length;
    const assigned = units.slice(0, 500).filter((u) => service.assign(u, "exp-sticky").reason === Reason.ASSIGNED).length;
    assert.equal(stored, assigned);
    assert.equal(service.assign("bot-1", "exp-sticky", { bot: true }).reason, Reason.NOT_TARGETED);
    assert.equal(store.get("exp-sticky", "bot-1"), null);
    assert.equal(service.assign("qa", "exp-sticky").reason, Reason.FORCED);
    assert.equal(store.get("exp-sticky", "qa"), null);
  });

  test("a stored unit keeps its variant when the traffic and targeting change", () => {
    const store = new MemoryStickyStore();
    const service = new ExperimentAssignmentService([definition([1, 1])], {}, { sticky: store });
    const first = units.slice(0, 300).map((u) => service.assign(u, "exp-sticky").variant);
    service.update([definition([1, 1], { trafficAllocation: 0.1, targeting: { include: ["country:FR"] } })]);
    const later = units.slice(0, 300).map((u) => service.assign(u, "exp-sticky"));
    assert.deepEqual(later.map((a) => a.variant), first);
    assert.ok(later.every((a) => a.reason === Reason.ASSIGNED));
  });

  test("insert-if-absent: a variant kept elsewhere first is the one served", () => {
    const store = new MemoryStickyStore();
    const racing = {
      get: () => null, // the other tab has not written yet when we read
      put: (e, u, v) => store.put(e, u, v),
    };
    store.put("exp-sticky", "user-1", "control");
    store.put("exp-sticky", "user-2", "treatment");
    const service = new ExperimentAssignmentService([definition([1, 1])], {}, { sticky: racing });
    assert.equal(service.assign("user-1", "exp-sticky").variant, "control");
    assert.equal(service.assign("user-2", "exp-sticky").variant, "treatment");
  });

  test("a stored variant the experiment no longer has is ignored", () => {
    const store = new MemoryStickyStore();
    store.put("exp-sticky", "user-1", "removed-arm");
    const service = new ExperimentAssignmentService([definition([1, 1])], {}, { sticky: store });
    const fresh = new ExperimentAssignmentService([definition([1, 1], { assignment: { sticky: false } })]);
    assert.equal(service.assign("user-1", "exp-sticky").variant, fresh.assign("user-1", "exp-sticky").variant);
  });

  test("bandits are sticky without the flag; other experiments never touch the store", () => {
    const store = new MemoryStickyStore();
    const bandit = definition([1, 1], { experimentId: "bandit", design: { type: "bandit" }, assignment: { sticky: false } });
    const plain = definition([1, 1], { experimentId: "plain", assignment: { sticky: false } });
    const service = new ExperimentAssignmentService([bandit, plain], {}, { sticky: store });
    service.assign("user-1", "bandit");
    service.assign("user-1", "plain");
    assert.equal(store.size, 1);
    assert.notEqual(store.get("bandit", "user-1"), null);
  });

  test("MemoryStickyStore keeps the first variant", () => {
    const store = new MemoryStickyStore();
    assert.equal(store.get("e", "u"), null);
    assert.equal(store.put("e", "u", "a"), "a");
    assert.equal(store.put("e", "u", "b"), "a");
    assert.equal(store.get("e", "u"), "a");
    assert.equal(store.get("other", "u"), null);
  });
});
