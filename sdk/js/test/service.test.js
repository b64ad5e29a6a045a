// Behaviour of the JS ExperimentAssignmentService beyond the shared vectors.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ExperimentAssignmentService, Reason, resolveUnit } from "../src/index.js";

const base = (changes = {}) => ({
  experimentId: "exp-test",
  status: "running",
  trafficAllocation: 1,
  variants: ["control", "variant-a", "variant-b"],
  assignment: { hashKey: "userId", salt: "test-salt", ...(changes.assignment ?? {}) },
  metrics: { primary: { name: "conversion" } },
  ...Object.fromEntries(Object.entries(changes).filter(([k]) => k !== "assignment")),
});

describe("ExperimentAssignmentService", () => {
  test("unknown experiments have their own reason", () => {
    const got = new ExperimentAssignmentService([base()]).assign("u1", "nope");
    assert.deepEqual([got.variant, got.reason], [null, Reason.UNKNOWN_EXPERIMENT]);
  });

  test("a cluster design never uses unitId as its cluster", () => {
    const service = new ExperimentAssignmentService([
      base({ assignment: { hashKey: "accountId" }, design: { type: "cluster", analysisUnit: "userId" } }),
    ]);
    for (const attributes of [undefined, null, {}, { userId: "u1" }, { accountId: null }]) {
      const got = service.assign("u1", "exp-test", attributes);
      assert.deepEqual([got.variant, got.reason], [null, Reason.MISSING_UNIT_ID]);
    }
    const batch = service.assignMany("exp-test", ["acct-1", "acct-2"]);
    assert.deepEqual(batch.map((a) => a.reason), [Reason.MISSING_UNIT_ID, Reason.MISSING_UNIT_ID]);
    const mine = service.assign("u1", "exp-test", { accountId: "acct-1" });
    const other = service.assign("u2", "exp-test", { accountId: "acct-1" });
    assert.equal(mine.reason, Reason.ASSIGNED);
    assert.equal(other.variant, mine.variant);
  });

  test("results are frozen", () => {
    const got = new ExperimentAssignmentService([base()]).assign("u1", "exp-test");
    assert.ok(Object.isFrozen(got));
  });

  test("the split is roughly even over 30,000 units", () => {
    const service = new ExperimentAssignmentService([base()]);
    const units = Array.from({ length: 30000 }, (_, i) => `user-${i}`);
    const counts = {};
    for (const a of service.assignMany("exp-test", units)) {
      counts[a.variant] = (counts[a.variant] ?? 0) + 1;
    }
    // Chi-square with 2 degrees of freedom; 13.82 is the 0.999 quantile (any chi-square table).
    const statistic = Object.values(counts).reduce((s, c) => s + (c - 10000) ** 2 / 10000, 0);
    assert.ok(statistic < 13.82, `chi-square ${statistic}`);
  });

  test("assignMany equals assign unit by unit, attributes included", () => {
    const service = new ExperimentAssignmentService([
      base({ targeting: { exclude: ["bot:true"] }, trafficAllocation: 0.5 }),
    ]);
    const units = ["a", "", null, 42, "b", "c"];
    const attributes = units.map((_, i) => ({ bot: i % 2 === 0 }));
    assert.deepEqual(
      service.assignMany("exp-test", units, attributes),
      units.map((u, i) => service.assign(u, "exp-test", attributes[i])),
    );
    assert.throws(() => service.assignMany("exp-test", units, []), RangeError);
  });

  test("assignAll covers serving experiments only", () => {
    const service = new ExperimentAssignmentService([
      base({ experimentId: "a" }),
      base({ experimentId: "b", status: "paused" }),
      base({ experimentId: "c", status: "shipped", shippedVariant: "variant-b" }),
    ]);
    const got = service.assignAll("user-1");
    assert.deepEqual(Object.keys(got).sort(), ["a", "c"]);
    assert.equal(got.c.reason, Reason.SHIPPED);
  });

  test("update replaces the experiments", () => {
    const service = new ExperimentAssignmentService([base()]);
    service.update([base({ status: "rolled_back" })]);
    assert.deepEqual(service.assign("u1", "exp-test").variant, "control");
    assert.throws(() => service.update([base(), base()]), { name: "DefinitionError" });
    assert.equal(service.assign("u1", "exp-test").reason, Reason.ROLLED_BACK);
  });

  test("saved groups feed $inGroup", () => {
    const condition = { userId: { $inGroup: "beta" } };
    const service = new ExperimentAssignmentService([base({ targeting: { condition } })], {
      beta: ["u7"],
    });
    assert.equal(service.assign("u7", "exp-test", { userId: "u7" }).reason, Reason.ASSIGNED);
    assert.equal(service.assign("u8", "exp-test", { userId: "u8" }).reason, Reason.NOT_TARGETED);
  });

  test("malformed definitions raise with the field named", () => {
    assert.throws(
      () => new ExperimentAssignmentService([base({ assignment: { salt: "" } })]),
      /assignment\.salt/,
    );
    assert.throws(
      () => new ExperimentAssignmentService([base({ targeting: { condition: { a: { $x: 1 } } } })]),
      { name: "ConditionError" },
    );
  });

  test("the hashKey rule", () => {
    assert.equal(resolveUnit("accountId", "user-1", { accountId: "a" }), "a");
    assert.equal(resolveUnit("accountId", "user-1", { accountId: null }), "user-1");
    assert.equal(resolveUnit("accountId", "user-1", {}), "user-1");
    assert.equal(resolveUnit("accountId", "user-1", { accountId: "" }), null);
    assert.equal(resolveUnit("accountId", "user-1", { accountId: 7 }), "7");
    assert.equal(resolveUnit("accountId", "user-1", { accountId: false }), null);
    assert.equal(resolveUnit("userId", "\ud800", null), null);
    assert.equal(resolveUnit("constructor", "user-1", {}), "user-1");
  });
});

describe("allocation tables (cluster designs)", () => {
  const table = { t1: "control", t2: "variant-b", t3: "variant-a" };
  const allocated = (changes = {}) =>
    base({
      assignment: { hashKey: "tenantId" },
      design: { type: "cluster", analysisUnit: "userId", allocation: { method: "complete", seed: 1, table } },
      ...changes,
    });

  test("a listed tenant gets its table variant for every user", () => {
    const service = new ExperimentAssignmentService([allocated()]);
    for (const [tenant, variant] of Object.entries(table)) {
      for (const user of ["u1", "u2", "u3"]) {
        const got = service.assign(user, "exp-test", { tenantId: tenant });
        assert.deepEqual([got.variant, got.reason, got.inExperiment], [variant, Reason.ASSIGNED, true]);
      }
    }
  });

  test("an unlisted tenant is not allocated", () => {
    const got = new ExperimentAssignmentService([allocated()]).assign("u1", "exp-test", { tenantId: "t9" });
    assert.deepEqual([got.variant, got.reason, got.inExperiment], [null, Reason.NOT_ALLOCATED, false]);
  });

  test("a table naming an unknown variant is refused when compiled", () => {
    const bad = allocated();
    bad.design.allocation = { method: "complete", seed: 1, table: { t1: "nope" } };
    assert.throws(() => new ExperimentAssignmentService([bad]), /design.allocation.table\["t1"\]/);
  });

  test("without a table the tenant is hashed as before", () => {
    const plain = allocated();
    delete plain.design.allocation;
    const got = new ExperimentAssignmentService([plain]).assign("u1", "exp-test", { tenantId: "t9" });
    assert.equal(got.reason, Reason.ASSIGNED);
  });
});
