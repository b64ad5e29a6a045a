// The language-neutral layer and holdout vectors (spec/layer-cases.json), the same file the
// Python tests read: layer edges, layer integers, and one set of experiments assigned together.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { ExperimentAssignmentService, layerEdge, layerInput, layerInteger } from "../src/index.js";

const spec = JSON.parse(
  readFileSync(new URL("../../../spec/layer-cases.json", import.meta.url), "utf-8"),
);
const hex = (bytes) => Buffer.from(bytes).toString("hex");

/** The fields of an answer the vectors pin (absent holdout fields read as null). */
export const answerOf = (a) => ({
  variant: a.variant,
  reason: a.reason,
  holdoutId: a.holdoutId ?? null,
  holdoutVariant: a.holdoutVariant ?? null,
});

test("every list of the file is run here (a new group cannot be left unrun)", () => {
  const lists = Object.keys(spec).filter((k) => Array.isArray(spec[k]));
  assert.deepEqual(lists.sort(), ["cases", "experiments", "layerEdges", "layerIntegers"]);
});

describe("layer edges", () => {
  for (const c of spec.layerEdges) {
    test(`bucket ${c.bucket}`, () => assert.equal(layerEdge(c.bucket, spec.layerBuckets), c.edge));
  }
});

describe("layer integers", () => {
  for (const c of spec.layerIntegers) {
    test(`${c.layerId} ${JSON.stringify(c.unit)}`, () => {
      const text = layerInput(c.layerId, c.unit);
      assert.equal(text, c.hashInput);
      assert.equal(hex(new TextEncoder().encode(text)), c.hashInputHex);
      const s = layerInteger(c.layerId, c.unit);
      assert.equal(s, c.layerInteger);
      for (const e of c.edges) {
        assert.deepEqual([layerEdge(e.start), layerEdge(e.end)], [e.startEdge, e.endEdge]);
        assert.equal(layerEdge(e.start) <= s && s < layerEdge(e.end), e.inRange, e.experimentId);
      }
    });
  }
});

describe("layer and holdout assignments (all experiments in one service)", () => {
  const service = new ExperimentAssignmentService(spec.experiments);
  for (const c of spec.cases) {
    test(c.name, () => {
      const got = service.assign(c.unitId, c.experimentId, c.attributes, { at: c.atMs });
      assert.deepEqual(answerOf(got), c.expected);
    });
  }
});
