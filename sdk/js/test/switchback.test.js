// The switchback vectors (spec/switchback-cases.json), the same the Python tests and the
// OpenFeature provider tests read, and the `at` option and the clock.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  ExperimentAssignmentService,
  TimeError,
  epochMs,
  parseOrigin,
  periodIndex,
  periodStartMs,
  switchbackInput,
  switchbackSplit,
  switchbackVariant,
} from "../src/index.js";

const cases = JSON.parse(
  readFileSync(new URL("../../../spec/switchback-cases.json", import.meta.url), "utf-8"),
);

const answerOf = (got) => {
  const out = { variant: got.variant, reason: got.reason };
  if (got.period !== undefined) {
    Object.assign(out, { period: got.period, periodStartMs: got.periodStart, switchbackUnit: got.switchbackUnit });
  }
  return out;
};
const expectedOf = (c) =>
  Object.fromEntries(
    ["variant", "reason", "period", "periodStartMs", "switchbackUnit"].filter((k) => k in c).map((k) => [k, c[k]]),
  );

describe("switchback origins and periods", () => {
  for (const c of cases.origins) {
    test(`origin ${c.origin}`, () => assert.equal(parseOrigin(c.origin), c.originMs));
  }
  for (const text of cases.badOrigins) {
    test(`bad origin ${text}`, () => assert.equal(parseOrigin(text), null));
  }
  for (const c of cases.periods) {
    test(`period of ${c.tMs} with origin ${c.design.origin ?? "default"}`, () => {
      assert.equal(periodIndex(c.design, c.tMs), c.period);
      assert.equal(periodStartMs(c.design, c.period), c.periodStartMs);
    });
  }
});

describe("switchback hashes", () => {
  for (const c of cases.hashes) {
    test(c.input, () => {
      const text = switchbackInput(c.experimentId, c.salt, c.unit, c.period);
      assert.equal(text, c.input);
      assert.equal(Buffer.from(new TextEncoder().encode(text)).toString("hex"), c.inputUtf8Hex);
      assert.equal(createHash("sha256").update(text, "utf8").digest("hex"), c.sha256);
      assert.equal(switchbackSplit(c.experimentId, c.salt, c.unit, c.period), c.split);
    });
  }
});

describe("switchback assignments", () => {
  for (const c of cases.assignments) {
    test(c.name, () => {
      const id = c.experiment.experimentId;
      const service = new ExperimentAssignmentService([c.experiment]);
      const got = service.assign(c.unitId, id, c.attributes, { at: c.atMs });
      assert.deepEqual(answerOf(got), expectedOf(c));
      assert.deepEqual(answerOf(service.assign(c.unitId, id, c.attributes, { at: new Date(c.atMs) })), expectedOf(c));
      const clocked = new ExperimentAssignmentService([c.experiment], {}, { clock: () => c.atMs });
      assert.deepEqual(answerOf(clocked.assign(c.unitId, id, c.attributes)), expectedOf(c));
      if (c.reason === "assigned") {
        assert.equal(switchbackVariant(c.experiment, c.switchbackUnit, c.period), c.variant);
      }
    });
  }
});

describe("switchback time", () => {
  const definition = cases.assignments[0].experiment;
  test("a bad time is refused naming the option", () => {
    const service = new ExperimentAssignmentService([definition]);
    for (const at of [1.5e12 + 0.5, "2026-01-01T00:00:00Z", true, 1e16, new Date(NaN), 10n]) {
      assert.throws(() => service.assign("u", definition.experimentId, null, { at }), (error) => {
        assert.ok(error instanceof TimeError);
        assert.match(error.message, /^at must be epoch milliseconds \(an integer within \+-8\.64e15\) or a Date \(got /);
        return true;
      });
    }
  });
  test("the clock is read once for assignAll and assignMany, never with `at`", () => {
    let reads = 0;
    const clock = () => {
      reads += 1;
      return 1767268800000;
    };
    const service = new ExperimentAssignmentService([definition], {}, { clock });
    service.assign("u", definition.experimentId, null, { at: 5 });
    assert.equal(reads, 0);
    service.assignAll("u");
    service.assignMany(definition.experimentId, ["a", "b", "c"]);
    assert.equal(reads, 2);
    assert.equal(epochMs(new Date(0)), 0);
  });
});
