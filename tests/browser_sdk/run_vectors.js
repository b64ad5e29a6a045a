// Runs every vector of spec/assignment-cases.json, spec/condition-cases.json,
// spec/switchback-cases.json and spec/layer-cases.json against the
// JS SDK inside a browser page (no node:crypto, no Buffer) and reports what disagrees.
// Loaded by tests/browser_sdk/test_browser_sdk.py from a local http.server.

import {
  ExperimentAssignmentService,
  allocationThreshold,
  bucketOf,
  compileRules,
  evaluateCondition,
  hashInput,
  hashIntegers,
  layerEdge,
  layerInput,
  layerInteger,
  nativeHash,
  parseOrigin,
  periodIndex,
  periodStartMs,
  switchbackInput,
  switchbackSplit,
  validateCondition,
  validateRules,
  variantEdges,
  variantIndex,
} from "../../sdk/js/src/index.js";

const specUrl = (name) => new URL(`../../spec/${name}`, import.meta.url);

async function loadSpec(name) {
  const response = await fetch(specUrl(name));
  if (!response.ok) throw new Error(`GET ${name}: HTTP ${response.status}`);
  return response.json();
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** One group of vectors: `check(c)` returns [expected, got]; a throw counts as a mismatch. */
function runGroup(group, cases, label, check, out) {
  for (const c of cases) {
    out.counts[group] = (out.counts[group] ?? 0) + 1;
    out.count += 1;
    let expected;
    let got;
    try {
      [expected, got] = check(c);
    } catch (error) {
      out.mismatches.push({ group, name: label(c), expected: "no exception", got: String(error) });
      continue;
    }
    if (!same(expected, got)) out.mismatches.push({ group, name: label(c), expected, got });
  }
}

function throwsConditionError(condition) {
  try {
    evaluateCondition(condition, {});
  } catch (error) {
    return error.name;
  }
  return "no exception";
}

/** Fetch the spec files from the server that served this module. */
export async function loadVectors() {
  return {
    assignment: await loadSpec("assignment-cases.json"),
    conditions: await loadSpec("condition-cases.json"),
    switchback: await loadSpec("switchback-cases.json"),
    layer: await loadSpec("layer-cases.json"),
  };
}

/** Every vector of the spec files, as served; see runLoaded. */
export async function runVectors() {
  const { assignment, conditions, switchback, layer } = await loadVectors();
  return runLoaded(assignment, conditions, switchback, layer);
}

/** The switchback vectors, in groups named "switchback:<list>". */
function runSwitchback(sb, out) {
  runGroup("switchback:origins", sb.origins, (c) => c.origin, (c) => [c.originMs, parseOrigin(c.origin)], out);
  runGroup("switchback:badOrigins", sb.badOrigins, (c) => c, (c) => [null, parseOrigin(c)], out);
  runGroup("switchback:periods", sb.periods, (c) => `${c.tMs}`, (c) => [
    [c.period, c.periodStartMs],
    [periodIndex(c.design, c.tMs), periodStartMs(c.design, c.period)],
  ], out);
  runGroup("switchback:hashes", sb.hashes, (c) => c.input, (c) => {
    const text = switchbackInput(c.experimentId, c.salt, c.unit, c.period);
    return [
      [c.input, c.inputUtf8Hex, c.split],
      [text, hex(new TextEncoder().encode(text)), switchbackSplit(c.experimentId, c.salt, c.unit, c.period)],
    ];
  }, out);
  runGroup("switchback:assignments", sb.assignments, (c) => c.name, (c) => {
    const service = new ExperimentAssignmentService([c.experiment]);
    const a = service.assign(c.unitId, c.experiment.experimentId, c.attributes, { at: c.atMs });
    return [
      [c.variant, c.reason, c.period ?? null, c.periodStartMs ?? null, c.switchbackUnit ?? null],
      [a.variant, a.reason, a.period ?? null, a.periodStart ?? null, a.switchbackUnit ?? null],
    ];
  }, out);
}

/** The layer and holdout vectors, in groups named "layer:<list>". */
function runLayer(spec, out) {
  runGroup("layer:layerEdges", spec.layerEdges, (c) => `${c.bucket}`, (c) => [
    c.edge,
    layerEdge(c.bucket, spec.layerBuckets),
  ], out);
  runGroup("layer:layerIntegers", spec.layerIntegers, (c) => `${c.layerId} ${c.unit}`, (c) => {
    const text = layerInput(c.layerId, c.unit);
    const s = layerInteger(c.layerId, c.unit);
    return [
      [c.hashInput, c.hashInputHex, c.layerInteger, c.edges.map((e) => e.inRange)],
      [text, hex(new TextEncoder().encode(text)), s,
        c.edges.map((e) => layerEdge(e.start) <= s && s < layerEdge(e.end))],
    ];
  }, out);
  // "experiments" is the one set of definitions the cases are assigned against.
  const service = new ExperimentAssignmentService(spec.experiments);
  out.counts["layer:experiments"] = spec.experiments.length;
  out.count += spec.experiments.length;
  runGroup("layer:cases", spec.cases, (c) => c.name, (c) => {
    const a = service.assign(c.unitId, c.experimentId, c.attributes, { at: c.atMs });
    return [
      c.expected,
      { variant: a.variant, reason: a.reason, holdoutId: a.holdoutId ?? null, holdoutVariant: a.holdoutVariant ?? null },
    ];
  }, out);
}

/** Run the given vectors; returns {count, counts, mismatches, nativeHash, process}. */
export function runLoaded(assignment, conditions, switchback = null, layer = null) {
  const out = { count: 0, counts: {}, mismatches: [], nativeHash, process: typeof process };

  runGroup("hashes", assignment.hashes, (c) => JSON.stringify(c.unit), (c) => {
    const text = hashInput(c.experimentId, c.salt, c.unit);
    const { digest, split, gate } = hashIntegers(text);
    const expected = [c.input, c.inputUtf8Hex, c.sha256, c.split, c.gate, c.splitBucket, c.gateBucket];
    const got = [
      text,
      hex(new TextEncoder().encode(text)),
      hex(digest),
      split,
      gate,
      bucketOf(split),
      bucketOf(gate),
    ];
    return [expected, got];
  }, out);

  runGroup("allocations", assignment.allocations, (c) => `allocation ${c.trafficAllocation}`, (c) => {
    const threshold = allocationThreshold(c.trafficAllocation);
    return [
      [c.threshold, c.gates.map((p) => p.exposed)],
      [threshold, c.gates.map((p) => p.gate < threshold)],
    ];
  }, out);

  runGroup("weights", assignment.weights, (c) => `weights ${JSON.stringify(c.weights)}`, (c) => {
    const edges = variantEdges(c.weights);
    return [
      [c.edges, c.splits.map((p) => p.variantIndex)],
      [edges, c.splits.map((p) => variantIndex(edges, p.split))],
    ];
  }, out);

  runGroup("assignments", assignment.assignments, (c) => c.name, (c) => {
    const service = new ExperimentAssignmentService([c.experiment]);
    const a = service.assign(c.unitId, c.experiment.experimentId, c.attributes);
    return [[c.variant, c.reason], [a.variant, a.reason]];
  }, out);

  runGroup("conditions", conditions.conditions, (c) => c.name, (c) => [
    c.expected,
    evaluateCondition(c.condition, c.attributes, c.savedGroups ?? {}),
  ], out);

  runGroup("invalidConditions", conditions.invalidConditions, (c) => c.name, (c) => [
    [c.problemPaths, "ConditionError"],
    [validateCondition(c.condition).map(([path]) => path), throwsConditionError(c.condition)],
  ], out);

  runGroup("rules", conditions.rules, (c) => c.name, (c) => [
    c.expected,
    compileRules(c.include, c.exclude)(c.attributes),
  ], out);

  runGroup("invalidRules", conditions.invalidRules, (c) => c.name, (c) => [
    c.problemPaths,
    validateRules(c.include, c.exclude).map(([path]) => path),
  ], out);

  if (switchback !== null) runSwitchback(switchback, out);
  if (layer !== null) runLayer(layer, out);
  return out;
}
