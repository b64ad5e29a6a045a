// Layers and holdouts (docs/assignment.md, "Layers", "Holdouts"): the hash, the precedence of
// outside_layer and holdout, holdoutId / holdoutVariant, shipped covered experiments and
// several holdouts. The shared vectors (spec/layer-cases.json) are in layer-spec.test.js.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";

import {
  BUCKETS,
  ExperimentAssignmentService,
  LAYER_BUCKETS,
  MemoryStickyStore,
  Reason,
  holdoutCovers,
  layerEdge,
  layerInput,
  layerInteger,
} from "../src/index.js";

const experiment = (id, changes = {}) => ({
  experimentId: id,
  status: "running",
  variants: ["control", "treatment"],
  assignment: { hashKey: "userId", salt: `salt-${id}`, ...(changes.assignment ?? {}) },
  metrics: { primary: { name: "conversion" } },
  ...Object.fromEntries(Object.entries(changes).filter(([k]) => k !== "assignment")),
});
const holdout = (id, percent, changes = {}) =>
  experiment(id, {
    variants: ["held-out", "exposed"],
    design: { type: "holdout", percent, scope: changes.scope ?? null },
    ...Object.fromEntries(Object.entries(changes).filter(([k]) => k !== "scope")),
  });
const units = (n, tag = "user") => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
const sha256 = (text) => createHash("sha256").update(Buffer.from(text, "utf-8")).digest();

/** |observed - expected| within 3 binomial standard errors of a share p over n units. */
function withinThreeSe(count, n, p, label) {
  const se = Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(count / n - p) <= 3 * se, `${label}: ${count}/${n} vs ${p} (3 SE = ${3 * se})`);
}

describe("layer hashing", () => {
  test("the layer string, and its integer = bytes 0-5 of node:crypto's digest", () => {
    assert.equal(layerInput("checkout", "user-1"), "splitlab/layer/v1|checkout|user-1");
    for (const unit of ["user-1", "Zoë", "ユーザー", "\u{1F600}", "x".repeat(200)]) {
      const digest = sha256(`splitlab/layer/v1|checkout|${unit}`);
      assert.equal(layerInteger("checkout", unit), digest.readUIntBE(0, 6), unit);
    }
  });

  test("edges: 0, 2^48 and ceil(b / 10000 * 2^48) in between", () => {
    assert.equal(LAYER_BUCKETS, 10000);
    assert.equal(layerEdge(0), 0);
    assert.equal(layerEdge(10000), BUCKETS);
    assert.equal(layerEdge(1), 28147497672); // ceil(2^48 / 10^4) = ceil(28147497671.0656)
    assert.equal(layerEdge(5000), BUCKETS / 2);
    assert.throws(() => layerEdge(10001), RangeError);
    assert.throws(() => layerEdge(0.5), RangeError);
  });
});

describe("layers", () => {
  const a = experiment("exp-a", { layer: { id: "checkout", start: 0, end: 3000 } });
  const b = experiment("exp-b", { layer: { id: "checkout", start: 3000, end: 10000 } });
  const service = new ExperimentAssignmentService([a, b]);

  test("disjoint ranges of one layer never share a unit, and each takes its share", () => {
    const n = 20000;
    let inA = 0;
    for (const unit of units(n)) {
      const ra = service.assign(unit, "exp-a").reason;
      const rb = service.assign(unit, "exp-b").reason;
      assert.notEqual(ra === Reason.ASSIGNED, rb === Reason.ASSIGNED, unit);
      const bucket = Math.floor((layerInteger("checkout", unit) / BUCKETS) * LAYER_BUCKETS);
      assert.equal(ra === Reason.ASSIGNED, bucket < 3000, unit);
      if (ra === Reason.ASSIGNED) inA++;
      else assert.equal(ra, Reason.OUTSIDE_LAYER);
    }
    withinThreeSe(inA, n, 0.3, "exp-a's share");
  });

  test("inside the range, the variant is the experiment's own split", () => {
    const free = new ExperimentAssignmentService([experiment("exp-a")]);
    for (const unit of units(500)) {
      const got = service.assign(unit, "exp-a");
      if (got.reason === Reason.ASSIGNED) assert.equal(got.variant, free.assign(unit, "exp-a").variant);
    }
  });

  test("precedence: missing unit id, forced, then outside_layer before sticky and targeting", () => {
    const failing = {
      get() {
        throw new Error("store down");
      },
      put() {
        throw new Error("store down");
      },
    };
    const outside = units(50).find((u) => service.assign(u, "exp-a").reason === Reason.OUTSIDE_LAYER);
    const definition = experiment("exp-a", {
      layer: a.layer,
      assignment: { sticky: true, forced: { treatment: [outside] } },
      targeting: { include: ["country:FR"] },
    });
    const strict = new ExperimentAssignmentService([definition], {}, { sticky: failing });
    assert.equal(strict.assign(null, "exp-a").reason, Reason.MISSING_UNIT_ID);
    assert.equal(strict.assign(outside, "exp-a").reason, Reason.FORCED);
    const other = units(50, "other").find((u) => layerInteger("checkout", u) >= layerEdge(3000));
    assert.equal(strict.assign(other, "exp-a").reason, Reason.OUTSIDE_LAYER);
    assert.equal(strict.stickyFailures, 0); // the store was never asked
    const inside = units(50, "other").find((u) => layerInteger("checkout", u) < layerEdge(3000));
    assert.equal(strict.assign(inside, "exp-a").reason, Reason.STICKY_UNAVAILABLE);
  });

  test("status decides before the layer: shipped and rolled back reach every unit", () => {
    const shipped = new ExperimentAssignmentService([
      experiment("exp-a", { layer: a.layer, status: "shipped", shippedVariant: "treatment" }),
    ]);
    for (const unit of units(100)) assert.equal(shipped.assign(unit, "exp-a").reason, Reason.SHIPPED);
  });

  test("a malformed layer is refused naming the field", () => {
    for (const [layer, field] of [
      [{ id: "x|y", start: 0, end: 10 }, "layer.id"],
      [{ id: "l", start: -1, end: 10 }, "layer.start"],
      [{ id: "l", start: 10, end: 10 }, "layer.end"],
      [{ id: "l", start: 0, end: 10001 }, "layer.end"],
      ["l", "layer"],
    ]) {
      assert.throws(() => new ExperimentAssignmentService([experiment("e", { layer })]), {
        name: "DefinitionError",
        message: new RegExp(field.replace(".", "\\.")),
      });
    }
  });
});

describe("holdouts", () => {
  const h10 = holdout("hold-10", 10, { scope: { tags: ["checkout"] } });
  const covered = experiment("exp-checkout", { tags: ["checkout"] });
  const other = experiment("exp-search", { tags: ["search"] });

  test("which experiments a holdout covers", () => {
    assert.equal(holdoutCovers(h10, covered), true);
    assert.equal(holdoutCovers(h10, other), false);
    assert.equal(holdoutCovers(holdout("h", 5), other), true); // no scope: every experiment
    assert.equal(holdoutCovers(h10, h10), false);
    assert.equal(holdoutCovers(holdout("h", 5), holdout("h2", 5)), false);
    const keyed = experiment("e", { tags: ["checkout"], assignment: { hashKey: "accountId" } });
    assert.equal(holdoutCovers(h10, keyed), false);
    const switchback = experiment("e", { tags: ["checkout"], design: { type: "switchback" } });
    assert.equal(holdoutCovers(h10, switchback), false);
  });

  test("10% are held out (control, reason holdout) and are the holdout's own first group", () => {
    const service = new ExperimentAssignmentService([h10, covered, other]);
    const n = 20000;
    let held = 0;
    for (const unit of units(n)) {
      const got = service.assign(unit, "exp-checkout");
      const own = service.assign(unit, "hold-10");
      assert.equal(own.reason, Reason.ASSIGNED);
      assert.equal(got.holdoutId, "hold-10");
      assert.equal(got.holdoutVariant, own.variant);
      if (own.variant === "held-out") {
        held++;
        assert.deepEqual([got.variant, got.reason, got.inExperiment], ["control", Reason.HOLDOUT, false]);
      } else {
        assert.equal(got.reason, Reason.ASSIGNED);
      }
      const untouched = service.assign(unit, "exp-search");
      assert.equal(untouched.reason, Reason.ASSIGNED);
      assert.equal(untouched.holdoutId, undefined);
    }
    withinThreeSe(held, n, 0.1, "held out");
  });

  test("the holdout step comes after targeting and the gate", () => {
    const gated = experiment("exp-checkout", {
      tags: ["checkout"],
      trafficAllocation: 0.5,
      targeting: { exclude: ["bot:true"] },
    });
    const service = new ExperimentAssignmentService([h10, gated]);
    const reasons = new Set();
    for (const unit of units(2000)) {
      const bot = service.assign(unit, "exp-checkout", { bot: true });
      assert.equal(bot.reason, Reason.NOT_TARGETED);
      assert.equal(bot.holdoutId, undefined);
      const got = service.assign(unit, "exp-checkout");
      reasons.add(got.reason);
      if (got.reason === Reason.OUTSIDE_TRAFFIC) assert.equal(got.holdoutId, undefined);
    }
    assert.deepEqual([...reasons].sort(), [Reason.ASSIGNED, Reason.HOLDOUT, Reason.OUTSIDE_TRAFFIC]);
  });

  test("a holdout that is not running holds nobody out", () => {
    for (const changes of [{ status: "paused" }, { status: "draft" }, { forcedVariant: "exposed" }]) {
      const service = new ExperimentAssignmentService([
        holdout("hold-10", 10, { scope: h10.design.scope, ...changes }),
        covered,
      ]);
      for (const unit of units(300)) {
        const got = service.assign(unit, "exp-checkout");
        assert.equal(got.reason, Reason.ASSIGNED);
        assert.equal(got.holdoutId, undefined);
      }
    }
  });

  test("shipped: the shipped variant for everyone but the held-out units; rollback and toggle ignore holdouts", () => {
    const shipped = experiment("exp-checkout", { tags: ["checkout"], status: "shipped", shippedVariant: "treatment" });
    const service = new ExperimentAssignmentService([h10, shipped]);
    let held = 0;
    for (const unit of units(3000)) {
      const own = service.assign(unit, "hold-10").variant;
      const got = service.assign(unit, "exp-checkout");
      if (own === "held-out") {
        held++;
        assert.deepEqual([got.variant, got.reason, got.holdoutVariant], ["control", Reason.HOLDOUT, "held-out"]);
      } else {
        assert.deepEqual([got.variant, got.reason, got.holdoutVariant], ["treatment", Reason.SHIPPED, "exposed"]);
      }
      assert.equal(got.holdoutId, "hold-10");
    }
    assert.ok(held > 0);
    assert.equal(service.assign(null, "exp-checkout").reason, Reason.SHIPPED);
    for (const changes of [{ status: "rolled_back" }, { forcedVariant: "treatment" }]) {
      const fixed = new ExperimentAssignmentService([h10, experiment("exp-checkout", { tags: ["checkout"], ...changes })]);
      for (const unit of units(300)) {
        const got = fixed.assign(unit, "exp-checkout");
        assert.notEqual(got.reason, Reason.HOLDOUT);
        assert.equal(got.holdoutId, undefined);
      }
    }
  });

  test("several holdouts: checked in id order; held out by any; holdoutId names the first that holds out", () => {
    const first = holdout("hold-a", 20);
    const second = holdout("hold-b", 30);
    // given in reverse order: the id order decides, not the order of the definitions
    const service = new ExperimentAssignmentService([second, covered, first]);
    const n = 10000;
    let held = 0;
    for (const unit of units(n)) {
      const a = service.assign(unit, "hold-a").variant === "held-out";
      const b = service.assign(unit, "hold-b").variant === "held-out";
      const got = service.assign(unit, "exp-checkout");
      if (a || b) {
        held++;
        assert.equal(got.reason, Reason.HOLDOUT);
        assert.equal(got.holdoutId, a ? "hold-a" : "hold-b");
        assert.equal(got.holdoutVariant, "held-out");
      } else {
        assert.deepEqual([got.reason, got.holdoutId, got.holdoutVariant], [Reason.ASSIGNED, "hold-a", "exposed"]);
      }
    }
    // independent hashes: held out by either with probability 1 - 0.8 * 0.7 = 0.44
    withinThreeSe(held, n, 0.44, "held out by either");
  });

  test("a unit stuck to a variant keeps it when a holdout starts later", () => {
    const store = new MemoryStickyStore();
    const sticky = experiment("exp-checkout", { tags: ["checkout"], assignment: { sticky: true } });
    const service = new ExperimentAssignmentService([sticky], {}, { sticky: store });
    const before = units(2000).map((u) => service.assign(u, "exp-checkout").variant);
    service.update([h10, sticky]);
    const after = units(2000).map((u) => service.assign(u, "exp-checkout"));
    assert.deepEqual(after.map((a) => a.variant), before);
    assert.ok(after.every((a) => a.reason === Reason.ASSIGNED));
    const fresh = units(200, "fresh").find((u) => service.assign(u, "hold-10").variant === "held-out");
    assert.equal(service.assign(fresh, "exp-checkout").reason, Reason.HOLDOUT);
    assert.equal(store.get("exp-checkout", fresh), null); // held-out units are not stored
  });

  test("sticky and covered: a kept answer names the unit's holdout group, like the first", () => {
    const store = new MemoryStickyStore();
    const sticky = experiment("exp-checkout", { tags: ["checkout"], assignment: { sticky: true } });
    const service = new ExperimentAssignmentService([h10, sticky], {}, { sticky: store });
    const unit = units(200).find((u) => service.assign(u, "hold-10").variant === "exposed");
    const first = service.assign(unit, "exp-checkout");
    // the unit reached the holdout step: its holdout exposure can be recorded
    assert.deepEqual([first.reason, first.holdoutId, first.holdoutVariant], [Reason.ASSIGNED, "hold-10", "exposed"]);
    assert.equal(store.get("exp-checkout", unit), first.variant);
    const again = service.assign(unit, "exp-checkout");
    // served from the store, still naming the holdout group: metrics reach the holdout on
    // every request for both groups (a held-out unit's answers always name it)
    assert.deepEqual(
      [again.variant, again.reason, again.holdoutId, again.holdoutVariant],
      [first.variant, Reason.ASSIGNED, "hold-10", "exposed"],
    );
  });

  test("sticky: a unit kept before a holdout started is named in its random group", () => {
    const store = new MemoryStickyStore();
    const sticky = experiment("exp-checkout", { tags: ["checkout"], assignment: { sticky: true } });
    const before = new ExperimentAssignmentService([sticky], {}, { sticky: store });
    const all = units(400);
    const kept = all.map((u) => before.assign(u, "exp-checkout").variant);
    const service = new ExperimentAssignmentService([h10, sticky], {}, { sticky: store });
    const held = all.filter((u) => service.assign(u, "hold-10").variant === "held-out");
    assert.ok(held.length > 0);
    for (const [i, u] of all.entries()) {
      const a = service.assign(u, "exp-checkout");
      assert.deepEqual([a.variant, a.reason, a.holdoutId], [kept[i], Reason.ASSIGNED, "hold-10"]);
      assert.equal(a.holdoutVariant, held.includes(u) ? "held-out" : "exposed");
    }
  });

  test("a malformed holdout is refused naming the field", () => {
    assert.throws(() => new ExperimentAssignmentService([holdout("h", 60), covered]), {
      name: "DefinitionError",
      message: /design\.percent/,
    });
    const three = holdout("h", 5, { variants: ["a", "b", "c"] });
    assert.throws(() => new ExperimentAssignmentService([three]), { name: "DefinitionError", message: /variants/ });
    // weights that contradict the percent are refused (the Python loader refuses them too),
    // not used: 50/50 would hold out half the units of a 5% holdout
    const even = [{ name: "held-out", weight: 0.5 }, { name: "exposed", weight: 0.5 }];
    assert.throws(() => new ExperimentAssignmentService([holdout("h", 5, { variants: even }), covered]), {
      name: "DefinitionError",
      message: /variants\[\*\]\.weight must be absent or \[0\.05, 0\.95\]/,
    });
    const exact = [{ name: "held-out", weight: 0.05 }, { name: "exposed", weight: 0.95 }];
    assert.doesNotThrow(() => new ExperimentAssignmentService([holdout("h", 5, { variants: exact }), covered]));
  });
});
