// The language-neutral vectors in spec/: the same files the Python tests read.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import {
  BUCKETS,
  ExperimentAssignmentService,
  allocationThreshold,
  bucketOf,
  compileRules,
  evaluateCondition,
  hashInput,
  hashIntegers,
  validateCondition,
  validateRules,
  variantEdges,
  variantIndex,
} from "../src/index.js";

const spec = (name) =>
  JSON.parse(readFileSync(new URL(`../../../spec/${name}`, import.meta.url), "utf-8"));
const assignment = spec("assignment-cases.json");
const conditions = spec("condition-cases.json");
const hex = (bytes) => Buffer.from(bytes).toString("hex");

describe("hash vectors", () => {
  for (const c of assignment.hashes) {
    test(`string, bytes, digest and integers for ${JSON.stringify(c.unit)}`, () => {
      const text = hashInput(c.experimentId, c.salt, c.unit);
      assert.equal(text, c.input);
      assert.equal(hex(new TextEncoder().encode(text)), c.inputUtf8Hex);
      const { digest, split, gate } = hashIntegers(text);
      assert.equal(hex(digest), c.sha256);
      assert.deepEqual([split, gate], [c.split, c.gate]);
      assert.deepEqual([bucketOf(split), bucketOf(gate)], [c.splitBucket, c.gateBucket]);
    });
  }
});

describe("allocation vectors", () => {
  for (const c of assignment.allocations) {
    test(`threshold and gates at allocation ${c.trafficAllocation}`, () => {
      const threshold = allocationThreshold(c.trafficAllocation);
      assert.equal(threshold, c.threshold);
      for (const probe of c.gates) assert.equal(probe.gate < threshold, probe.exposed);
    });
  }
});

describe("weight vectors", () => {
  for (const c of assignment.weights) {
    test(`edges and edge-adjacent splits for weights ${JSON.stringify(c.weights)}`, () => {
      const edges = variantEdges(c.weights);
      assert.deepEqual(edges, c.edges);
      for (const probe of c.splits) {
        assert.equal(variantIndex(edges, probe.split), probe.variantIndex, `split ${probe.split}`);
      }
    });
  }
  test("the largest split value lands in the last variant", () => {
    const edges = variantEdges([1, 1, 1]);
    assert.equal(variantIndex(edges, BUCKETS - 1), 2);
    assert.ok(bucketOf(BUCKETS - 1) < 1);
  });
});

describe("end-to-end assignments", () => {
  for (const c of assignment.assignments) {
    test(c.name, () => {
      const service = new ExperimentAssignmentService([c.experiment]);
      const got = service.assign(c.unitId, c.experiment.experimentId, c.attributes);
      assert.deepEqual([got.variant, got.reason], [c.variant, c.reason]);
    });
  }
});

describe("conditions", () => {
  for (const c of conditions.conditions) {
    test(c.name, () => {
      assert.equal(evaluateCondition(c.condition, c.attributes, c.savedGroups ?? {}), c.expected);
    });
  }
  for (const c of conditions.invalidConditions) {
    test(`invalid: ${c.name}`, () => {
      const paths = validateCondition(c.condition).map(([path]) => path);
      assert.deepEqual(paths, c.problemPaths);
      assert.throws(() => evaluateCondition(c.condition, {}), { name: "ConditionError" });
    });
  }
});

describe("include / exclude rules", () => {
  for (const c of conditions.rules) {
    test(c.name, () => {
      assert.equal(compileRules(c.include, c.exclude)(c.attributes), c.expected);
    });
  }
  for (const c of conditions.invalidRules) {
    test(`invalid: ${c.name}`, () => {
      assert.deepEqual(
        validateRules(c.include, c.exclude).map(([path]) => path),
        c.problemPaths,
      );
    });
  }
});
