// One experiment definition compiled into a plan: everything that does not depend on the
// unit (the hashed prefix, the gate and edges, targeting, the allow-list, the layer range, the
// covering holdouts, one frozen answer per outcome) is computed once, so assigning a unit is
// a few comparisons and one SHA-256 per hash the precedence reaches (docs/assignment.md).

import { DefinitionError } from "./errors.js";
import { compileCondition } from "./conditions.js";
import { compileRules } from "./rules.js";
import {
  BUCKETS,
  allocationThreshold,
  experimentPrefix,
  gateWord,
  headHasher,
  splitWord,
  variantEdges,
  variantIndex,
} from "./hashing.js";
import { compileHoldouts, holdoutSplitWeights, isHoldout } from "./holdouts.js";
import { compileLayer } from "./layers.js";
import { compileSwitchback } from "./switchback.js";
import { unitText } from "./units.js";
import { isObject, own } from "./values.js";

/** Why a unit got its variant (or none); the order is the precedence. */
export const Reason = Object.freeze({
  UNKNOWN_EXPERIMENT: "unknown_experiment",
  ROLLED_BACK: "rolled_back",
  SHIPPED: "shipped",
  TOGGLED: "toggled",
  NOT_RUNNING: "not_running",
  MISSING_UNIT_ID: "missing_unit_id",
  FORCED: "forced",
  OUTSIDE_LAYER: "outside_layer",
  STICKY_UNAVAILABLE: "sticky_unavailable",
  NOT_TARGETED: "not_targeted",
  OUTSIDE_TRAFFIC: "outside_traffic",
  NOT_ALLOCATED: "not_allocated",
  HOLDOUT: "holdout",
  ASSIGNED: "assigned",
});

const NOT_RUNNING = new Set(["draft", "paused", "stopped"]);
const STATUSES = new Set([...NOT_RUNNING, "running", "rolled_back", "shipped"]);
const NO_ATTRIBUTES = Object.freeze({});

/** A frozen answer: {experimentId, variant, reason, inExperiment, ...extra}. */
export function outcome(experimentId, variant, reason, extra = undefined) {
  const answer = { experimentId, variant, reason, inExperiment: reason === Reason.ASSIGNED };
  return Object.freeze(extra === undefined ? answer : Object.assign(answer, extra));
}

export function fail(experimentId, field, value, expected) {
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

/** A cluster design's allocation table as a Map from cluster id to variant index, or null. */
function allocationTable(definition, id, names) {
  const design = definition.design;
  if (!isObject(design) || design.type !== "cluster" || !isObject(design.allocation)) return null;
  const table = design.allocation.table;
  if (!isObject(table)) fail(id, "design.allocation.table", table, "an object of cluster id -> variant");
  const out = new Map();
  for (const [cluster, variant] of Object.entries(table)) {
    const index = names.indexOf(variant);
    if (index < 0) fail(id, `design.allocation.table[${JSON.stringify(cluster)}]`, variant, `one of ${names.join(", ")}`);
    out.set(cluster, index);
  }
  return out;
}

/** Whether a running experiment keeps each unit's first variant (opt-in; bandits always). */
export function isSticky(definition) {
  return definition.assignment?.sticky === true || definition.design?.type === "bandit";
}

/**
 * The unit an experiment hashes: attributes[hashKey] when present and not null, else unitId
 * (never for a cluster design, whose unit must be the cluster attribute).
 */
function unitResolver(definition) {
  const hashKey = definition.assignment?.hashKey ?? "userId";
  const fallback = !(isObject(definition.design) && definition.design.type === "cluster");
  return (unitId, attributes) => {
    let unit = fallback ? unitId : null;
    if (isObject(attributes)) {
      const value = own(attributes, hashKey);
      if (value !== null) unit = value;
    }
    return unitText(unit);
  };
}

/**
 * A status that serves one variant to everyone (rolled back, shipped, toggled) or none (not
 * running): {variant, reason}, or null for a running experiment without a toggle.
 */
function fixedStatus(definition, id, names, control) {
  const status = definition.status ?? "draft";
  if (!STATUSES.has(status)) fail(id, "status", status, `one of ${[...STATUSES].join(", ")}`);
  if (status === "rolled_back") return { variant: control, reason: Reason.ROLLED_BACK };
  if (status === "shipped") {
    if (!names.includes(definition.shippedVariant)) {
      fail(id, "shippedVariant", definition.shippedVariant, `one of ${names.join(", ")}`);
    }
    return { variant: definition.shippedVariant, reason: Reason.SHIPPED };
  }
  if (definition.forcedVariant) return { variant: definition.forcedVariant, reason: Reason.TOGGLED };
  if (NOT_RUNNING.has(status)) return { variant: null, reason: Reason.NOT_RUNNING };
  return null;
}

/** The answers of a covered experiment's holdout step, built once. */
function holdoutAnswers(id, names, control, holdouts) {
  if (holdouts === null) return null;
  const extra = { holdoutId: holdouts.ids[0], holdoutVariant: holdouts.other };
  return {
    check: holdouts.check,
    assigned: names.map((name) => outcome(id, name, Reason.ASSIGNED, extra)),
    heldOut: holdouts.ids.map((holdoutId, i) =>
      outcome(id, control, Reason.HOLDOUT, { holdoutId, holdoutVariant: holdouts.heldOut[i] }),
    ),
    // A variant kept in the sticky store is served whatever the holdouts say; its answer
    // names the unit's holdout group (per holdout holding it out, per variant).
    keptHeldOut: holdouts.ids.map((holdoutId, i) =>
      names.map((name) => outcome(id, name, Reason.ASSIGNED, { holdoutId, holdoutVariant: holdouts.heldOut[i] })),
    ),
    served: (variant, reason) => outcome(id, variant, reason, extra),
  };
}

/**
 * Compile one definition into {definition, assign(unitId, attributes, tMs), serves, timed}.
 * `context`: {holdouts: every holdout definition in force, sticky: a store or null,
 * stickyFailed(error, experimentId, unit): called when the store throws}.
 */
export function compilePlan(definition, savedGroups, context) {
  const id = definition?.experimentId;
  if (typeof id !== "string" || !id) fail(id, "experimentId", id, "a non-empty string");
  const variants = (definition.variants ?? []).map((v) => (typeof v === "string" ? { name: v } : v));
  if (variants.length < 2 || variants.some((v) => !isObject(v) || typeof v.name !== "string")) {
    fail(id, "variants", definition.variants, "a list of at least two variant names");
  }
  const names = variants.map((v) => v.name);
  const control = definition.control || names[0];
  const holdout = isHoldout(definition);
  if (holdout && names.length !== 2) {
    fail(id, "variants", definition.variants, "exactly two variants for a holdout (held out, everyone else)");
  }
  const fixed = fixedStatus(definition, id, names, control);
  // Rolled back and toggled experiments ignore holdouts; shipped ones serve their variant to
  // everyone but the units a running covering holdout holds out.
  const covering =
    fixed === null || fixed.reason === Reason.SHIPPED
      ? compileHoldouts(definition, context.holdouts ?? [])
      : null;
  const answers = holdoutAnswers(id, names, control, covering);
  if (fixed !== null) {
    const answer = outcome(id, fixed.variant, fixed.reason);
    const serves = fixed.variant !== null;
    if (answers === null) return { definition, assign: () => answer, serves, timed: false };
    const resolve = unitResolver(definition);
    const shipped = answers.served(fixed.variant, fixed.reason);
    const assign = (unitId, attributes) => {
      const unit = resolve(unitId, attributes);
      if (unit === null) return answer;
      const index = answers.check(unit);
      return index < 0 ? shipped : answers.heldOut[index];
    };
    return { definition, assign, serves, timed: false };
  }

  const assignment = definition.assignment ?? {};
  const salt = assignment.salt;
  if (typeof salt !== "string" || !salt) fail(id, "assignment.salt", salt, "a non-empty string");
  const targeted = compileTargeting(definition.targeting, savedGroups);
  if (definition.design?.type === "switchback") {
    const cell = compileSwitchback(
      definition,
      variants,
      targeted === null ? null : (attributes) => targeted(isObject(attributes) ? attributes : {}),
      (variant, reason, extra) => outcome(id, variant, reason, extra),
    );
    const unitOf = (key, attributes) => {
      const value = isObject(attributes) ? own(attributes, key) : null;
      return value === null ? null : unitText(value);
    };
    return { definition, assign: (unitId, attributes, tMs) => cell(attributes, unitOf, tMs), serves: true, timed: true };
  }
  const assign = compileRunning(definition, { id, names, variants, salt, targeted, holdout, answers, context });
  return { definition, assign, serves: true, timed: false };
}

/** The assign function of a running, untimed experiment. */
function compileRunning(definition, { id, names, variants, salt, targeted, holdout, answers, context }) {
  const assignment = definition.assignment ?? {};
  const resolve = unitResolver(definition);
  const threshold = allocationThreshold(definition.trafficAllocation ?? 1.0);
  const gated = threshold < BUCKETS;
  let weights;
  if (holdout) {
    weights = holdoutSplitWeights(definition);
  } else {
    const weighted = variants.some((v) => v.weight !== undefined && v.weight !== null);
    weights = variants.map((v) => (weighted ? v.weight : 1.0));
  }
  const edges = variantEdges(weights);
  const edge = edges.length === 1 ? edges[0] : -1;
  const hash = headHasher(experimentPrefix(id, salt));
  const plain = names.map((name) => outcome(id, name, Reason.ASSIGNED));
  const forced = new Map();
  for (const [variant, units] of Object.entries(assignment.forced ?? {})) {
    for (const unit of units) forced.set(unit, outcome(id, variant, Reason.FORCED));
  }
  const hasForced = forced.size > 0;
  const missing = outcome(id, null, Reason.MISSING_UNIT_ID);
  const notTargeted = outcome(id, null, Reason.NOT_TARGETED);
  const outside = outcome(id, null, Reason.OUTSIDE_TRAFFIC);
  const outsideLayer = outcome(id, null, Reason.OUTSIDE_LAYER);
  const unavailable = outcome(id, null, Reason.STICKY_UNAVAILABLE);
  const notAllocated = outcome(id, null, Reason.NOT_ALLOCATED);
  const table = allocationTable(definition, id, names);
  const inLayer = compileLayer(definition);
  const store = isSticky(definition) ? (context.sticky ?? null) : null;
  const stickyFailed = context.stickyFailed ?? (() => {});
  const check = answers === null ? null : answers.check;
  const assigned = answers === null ? plain : answers.assigned;
  const heldOut = answers === null ? null : answers.heldOut;
  const keptHeldOut = answers === null ? null : answers.keptHeldOut;
  // A kept variant's answer: the unit's holdout group named, as on the way in.
  const keptAnswer = (unit, index) => {
    if (check === null) return plain[index];
    const holder = check(unit);
    return holder >= 0 ? keptHeldOut[holder][index] : assigned[index];
  };

  // Targeting, the allocation table or the gate and split, then the holdout step.
  const decide = (unit, attributes) => {
    if (targeted !== null && !targeted(isObject(attributes) ? attributes : NO_ATTRIBUTES)) {
      return notTargeted;
    }
    let index;
    if (table !== null) {
      index = table.get(unit);
      if (index === undefined) return notAllocated;
    } else {
      hash(unit);
      if (gated && gateWord() >= threshold) return outside;
      const split = splitWord();
      index = edge >= 0 ? (split < edge ? 0 : 1) : variantIndex(edges, split);
    }
    if (check !== null) {
      const holder = check(unit);
      if (holder >= 0) return heldOut[holder];
    }
    return assigned[index];
  };

  const stickyDecide = (unit, attributes) => {
    let kept;
    try {
      kept = store.get(id, unit);
    } catch (error) {
      stickyFailed(error, id, unit);
      return unavailable;
    }
    if (kept !== null && kept !== undefined) {
      const index = names.indexOf(kept);
      if (index >= 0) return keptAnswer(unit, index);
    }
    const answer = decide(unit, attributes);
    if (answer.reason !== Reason.ASSIGNED) return answer;
    try {
      kept = store.put(id, unit, answer.variant);
    } catch (error) {
      stickyFailed(error, id, unit);
      return unavailable;
    }
    if (kept === answer.variant) return answer;
    const index = names.indexOf(kept);
    return index >= 0 ? keptAnswer(unit, index) : answer;
  };

  const next = store === null ? decide : stickyDecide;
  return (unitId, attributes) => {
    const unit = resolve(unitId, attributes);
    if (unit === null) return missing;
    if (hasForced) {
      const hit = forced.get(unit);
      if (hit !== undefined) return hit;
    }
    if (inLayer !== null && !inLayer(unit)) return outsideLayer;
    return next(unit, attributes);
  };
}
