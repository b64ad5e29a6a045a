// ExperimentAssignmentService for browsers and Node: the same answers as the Python
// service (docs/assignment.md), computed synchronously from the definitions alone.

import { DefinitionError } from "./errors.js";
import { compileCondition } from "./conditions.js";
import { compileRules } from "./rules.js";
import { allocationThreshold, hashInput, hashIntegers, variantEdges, variantIndex } from "./hashing.js";
import { isObject, own } from "./values.js";
import { compileSwitchback, epochMs } from "./switchback.js";

/** Why a unit got its variant (or none); the order is the precedence. */
export const Reason = Object.freeze({
  UNKNOWN_EXPERIMENT: "unknown_experiment",
  ROLLED_BACK: "rolled_back",
  SHIPPED: "shipped",
  TOGGLED: "toggled",
  NOT_RUNNING: "not_running",
  MISSING_UNIT_ID: "missing_unit_id",
  FORCED: "forced",
  NOT_TARGETED: "not_targeted",
  OUTSIDE_TRAFFIC: "outside_traffic",
  NOT_ALLOCATED: "not_allocated",
  ASSIGNED: "assigned",
});

const NOT_RUNNING = new Set(["draft", "paused", "stopped"]);
const STATUSES = new Set([...NOT_RUNNING, "running", "rolled_back", "shipped"]);

function outcome(experimentId, variant, reason, extra = undefined) {
  const answer = { experimentId, variant, reason, inExperiment: reason === Reason.ASSIGNED };
  return Object.freeze(extra === undefined ? answer : Object.assign(answer, extra));
}

// A lone UTF-16 surrogate: text that has no UTF-8 encoding (isWellFormed needs Node 20).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed =
  typeof String.prototype.isWellFormed === "function"
    ? (text) => text.isWellFormed()
    : (text) => !LONE_SURROGATE.test(text);

/** A unit id as text: a non-empty well-formed string, or an integer in decimal; else null. */
export function unitText(value) {
  if (typeof value === "string") {
    return value && wellFormed(value) ? value : null;
  }
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value).toString();
  if (typeof value === "bigint") return value.toString();
  return null;
}

/** The unit hashed: attributes[hashKey] when present and not null, else unitId. */
export function resolveUnit(hashKey, unitId, attributes) {
  if (isObject(attributes)) {
    const value = own(attributes, hashKey);
    if (value !== null) return unitText(value);
  }
  return unitText(unitId);
}

function fail(experimentId, field, value, expected) {
  throw new DefinitionError(
    `experiment ${JSON.stringify(experimentId)}: ${field} must be ${expected} (got ${JSON.stringify(value)})`,
  );
}

function compileTargeting(targeting, savedGroups) {
  const { include = [], exclude = [], condition = null } = targeting ?? {};
  const rules = include.length || exclude.length ? compileRules(include, exclude) : null;
  const cond = condition === null ? null : compileCondition(condition, savedGroups);
  if (rules === null) return cond;
  if (cond === null) return rules;
  return (attributes) => rules(attributes) && cond(attributes);
}

/**
 * A cluster design's allocation table (design.allocation.table) as a Map from cluster id to
 * its shared "assigned" outcome; null when the definition has no table (clusters are hashed).
 */
function allocationTable(definition, id, assigned, names) {
  const design = definition.design;
  if (!isObject(design) || design.type !== "cluster" || !isObject(design.allocation)) return null;
  const table = design.allocation.table;
  if (!isObject(table)) fail(id, "design.allocation.table", table, "an object of cluster id -> variant");
  const out = new Map();
  for (const [cluster, variant] of Object.entries(table)) {
    const index = names.indexOf(variant);
    if (index < 0) fail(id, `design.allocation.table[${JSON.stringify(cluster)}]`, variant, `one of ${names.join(", ")}`);
    out.set(cluster, assigned[index]);
  }
  return out;
}

/** Compile one definition (the experiment JSON) into {definition, assign, serves}. */
function compilePlan(definition, savedGroups) {
  const id = definition?.experimentId;
  if (typeof id !== "string" || !id) fail(id, "experimentId", id, "a non-empty string");
  const variants = (definition.variants ?? []).map((v) => (typeof v === "string" ? { name: v } : v));
  if (variants.length < 2 || variants.some((v) => !isObject(v) || typeof v.name !== "string")) {
    fail(id, "variants", definition.variants, "a list of at least two variant names");
  }
  const names = variants.map((v) => v.name);
  const status = definition.status ?? "draft";
  if (!STATUSES.has(status)) fail(id, "status", status, `one of ${[...STATUSES].join(", ")}`);
  const control = definition.control || names[0];
  const fixed = (variant, reason) => {
    const answer = outcome(id, variant, reason);
    return { definition, assign: () => answer, serves: variant !== null, timed: false };
  };
  if (status === "rolled_back") return fixed(control, Reason.ROLLED_BACK);
  if (status === "shipped") {
    if (!names.includes(definition.shippedVariant)) {
      fail(id, "shippedVariant", definition.shippedVariant, `one of ${names.join(", ")}`);
    }
    return fixed(definition.shippedVariant, Reason.SHIPPED);
  }
  if (definition.forcedVariant) return fixed(definition.forcedVariant, Reason.TOGGLED);
  if (NOT_RUNNING.has(status)) return fixed(null, Reason.NOT_RUNNING);

  const assignment = definition.assignment ?? {};
  const salt = assignment.salt;
  if (typeof salt !== "string" || !salt) fail(id, "assignment.salt", salt, "a non-empty string");
  if (definition.design?.type === "switchback") {
    const targeting = compileTargeting(definition.targeting, savedGroups);
    const cell = compileSwitchback(
      definition,
      variants,
      targeting === null ? null : (attributes) => targeting(isObject(attributes) ? attributes : {}),
      (variant, reason, extra) => outcome(id, variant, reason, extra),
    );
    const unitOf = (key, attributes) => {
      const value = isObject(attributes) ? own(attributes, key) : null;
      return value === null ? null : unitText(value);
    };
    return { definition, assign: (unitId, attributes, tMs) => cell(attributes, unitOf, tMs), serves: true, timed: true };
  }
  const hashKey = assignment.hashKey ?? "userId";
  // A cluster design hashes attributes[hashKey] only: unitId (a user) never stands for a cluster.
  const fallback = !(isObject(definition.design) && definition.design.type === "cluster");
  const allocation = definition.trafficAllocation ?? 1.0;
  const threshold = allocationThreshold(allocation);
  const weighted = variants.some((v) => v.weight !== undefined && v.weight !== null);
  const edges = variantEdges(variants.map((v) => (weighted ? v.weight : 1.0)));
  const assigned = names.map((name) => outcome(id, name, Reason.ASSIGNED));
  const forced = new Map();
  for (const [variant, units] of Object.entries(assignment.forced ?? {})) {
    for (const unit of units) forced.set(unit, outcome(id, variant, Reason.FORCED));
  }
  const missing = outcome(id, null, Reason.MISSING_UNIT_ID);
  const notTargeted = outcome(id, null, Reason.NOT_TARGETED);
  const outside = outcome(id, null, Reason.OUTSIDE_TRAFFIC);
  const table = allocationTable(definition, id, assigned, names);
  const notAllocated = outcome(id, null, Reason.NOT_ALLOCATED);
  const targeted = compileTargeting(definition.targeting, savedGroups);

  const assign = (unitId, attributes) => {
    const unit = resolveUnit(hashKey, fallback ? unitId : null, attributes);
    if (unit === null) return missing;
    const hit = forced.get(unit);
    if (hit !== undefined) return hit;
    if (targeted !== null && !targeted(isObject(attributes) ? attributes : {})) return notTargeted;
    if (table !== null) return table.get(unit) ?? notAllocated;
    const { split, gate } = hashIntegers(hashInput(id, salt, unit));
    if (gate >= threshold) return outside;
    return assigned[variantIndex(edges, split)];
  };
  return { definition, assign, serves: true, timed: false };
}

/**
 * Deterministic assignment of units to experiments from their definitions (JSON objects).
 * `options.clock` returns the current time in epoch ms (Date.now); it is read only for
 * switchback experiments assigned without the `at` option.
 */
export class ExperimentAssignmentService {
  #plans = new Map();
  #savedGroups = {};
  #clock;

  constructor(experiments = [], savedGroups = {}, { clock = Date.now } = {}) {
    this.#clock = clock;
    this.update(experiments, savedGroups);
  }

  /** The clock's current time in epoch milliseconds (floored). */
  nowMs() {
    return Math.floor(this.#clock());
  }

  // The time of one call: `at` when given (checked), else the clock when a plan needs it.
  #time(options, timed) {
    const at = options?.at;
    if (at !== undefined && at !== null) return epochMs(at);
    return timed ? this.nowMs() : 0;
  }

  /** Replace every experiment (and the saved groups, when given) at once. */
  update(experiments, savedGroups = undefined) {
    const groups = savedGroups === undefined ? this.#savedGroups : (savedGroups ?? {});
    const plans = new Map();
    for (const definition of experiments) {
      const plan = compilePlan(definition, groups);
      const id = definition.experimentId;
      if (plans.has(id)) fail(id, "experimentId", id, "unique across experiments");
      plans.set(id, plan);
    }
    this.#plans = plans;
    this.#savedGroups = groups;
  }

  /**
   * {experimentId, variant, reason, inExperiment}; variant is null when none is served. A
   * running switchback adds {period, periodStart, switchbackUnit}; `options.at` (epoch ms or
   * a Date) is the time to assign at, the clock's when absent.
   */
  assign(unitId, experimentId, attributes = null, options = undefined) {
    const plan = this.#plans.get(experimentId);
    if (plan === undefined) return outcome(experimentId, null, Reason.UNKNOWN_EXPERIMENT);
    return plan.assign(unitId, attributes, this.#time(options, plan.timed));
  }

  /** Assignments to every experiment that can serve a variant, by experiment id (one time). */
  assignAll(unitId, attributes = null, options = undefined) {
    const plans = [...this.#plans].filter(([, plan]) => plan.serves);
    const tMs = this.#time(options, plans.some(([, plan]) => plan.timed));
    const out = {};
    for (const [id, plan] of plans) out[id] = plan.assign(unitId, attributes, tMs);
    return out;
  }

  /** Many units to one experiment (one time); `attributes` has one object per unit. */
  assignMany(experimentId, unitIds, attributes = null, options = undefined) {
    const units = Array.from(unitIds);
    if (attributes !== null && attributes.length !== units.length) {
      throw new RangeError(
        `attributes must have one entry per unit id (${units.length}), got ${attributes.length}`,
      );
    }
    const at = this.#time(options, this.#plans.get(experimentId)?.timed ?? false);
    return units.map((u, i) =>
      this.assign(u, experimentId, attributes === null ? null : attributes[i], { at }),
    );
  }
}
