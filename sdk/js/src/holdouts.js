// Holdouts (docs/assignment.md, "Holdouts"): an experiment with
// `design: {type: "holdout", percent, scope}` holds `percent` of the units out of every
// experiment it covers. Its first variant is the held-out group, its second everyone else;
// the weights follow from the percent. A unit is held out when the holdout's own split puts
// it in the first variant (its own experimentId and salt: one digest per holdout).

import { DefinitionError } from "./errors.js";
import { experimentPrefix, headHasher, splitWord, variantEdges } from "./hashing.js";
import { isObject } from "./values.js";

/** The largest holdout, in percent: more than half the units held out is refused. */
export const MAX_HOLDOUT_PERCENT = 50;
/** Designs a holdout never covers. */
const NEVER_COVERED = new Set(["holdout", "switchback", "canary"]);

/** Whether `definition` is a holdout (design.type "holdout"). */
export function isHoldout(definition) {
  return isObject(definition?.design) && definition.design.type === "holdout";
}

/** The weights of a holdout of `percent`: [percent / 100, 1 - percent / 100] (held out first). */
export function holdoutWeights(percent) {
  const share = percent / 100;
  return [share, 1 - share];
}

/** How far a given holdout weight may be from the derived one (as the Python loader allows). */
const WEIGHT_TOLERANCE = 1e-9;

/**
 * A holdout's split weights: its variants' own when given (each within 1e-9 of the derived
 * one, as the Python loader requires: a DefinitionError naming the field otherwise), else
 * derived from its percent.
 */
export function holdoutSplitWeights(definition) {
  const percent = holdoutPercent(definition);
  const wanted = holdoutWeights(percent);
  const given = definition.variants.map((v) => (typeof v === "string" ? null : (v.weight ?? null)));
  if (!given.some((w) => w !== null)) return wanted;
  const close = given.every(
    (w, i) => typeof w === "number" && Number.isFinite(w) && Math.abs(w - wanted[i]) <= WEIGHT_TOLERANCE,
  );
  if (given.length !== 2 || !close) {
    throw new DefinitionError(
      `experiment ${JSON.stringify(definition.experimentId)}: variants[*].weight must be absent or ` +
        `[${wanted[0]}, ${wanted[1]}] (they follow from design.percent = ${percent}; got ${JSON.stringify(given)})`,
    );
  }
  return given;
}

/** The holdout's percent, checked (a DefinitionError names the field otherwise). */
export function holdoutPercent(definition) {
  const percent = definition.design.percent;
  if (typeof percent !== "number" || !(percent > 0 && percent <= MAX_HOLDOUT_PERCENT)) {
    throw new DefinitionError(
      `experiment ${JSON.stringify(definition.experimentId)}: design.percent must be a number ` +
        `in (0, ${MAX_HOLDOUT_PERCENT}] (got ${JSON.stringify(percent)})`,
    );
  }
  return percent;
}

const hashKeyOf = (definition) => definition.assignment?.hashKey ?? "userId";

/**
 * Whether `holdout` (a holdout design) covers `experiment`, whatever their statuses: another
 * experiment that is not a holdout, switchback or canary, randomised on the holdout's
 * hashKey, and carrying one of the scope's tags when the scope names tags.
 */
export function holdoutCovers(holdout, experiment) {
  if (!isHoldout(holdout) || experiment.experimentId === holdout.experimentId) return false;
  const kind = isObject(experiment.design) ? experiment.design.type : null;
  if (NEVER_COVERED.has(kind)) return false;
  if (hashKeyOf(experiment) !== hashKeyOf(holdout)) return false;
  const scope = holdout.design.scope;
  if (scope === undefined || scope === null) return true;
  const tags = new Set(Array.isArray(experiment.tags) ? experiment.tags : []);
  return (scope.tags ?? []).some((tag) => tags.has(tag));
}

/** Whether a holdout holds units out now: running, with no variant toggle. */
export function holdoutActive(holdout) {
  return isHoldout(holdout) && holdout.status === "running" && !holdout.forcedVariant;
}

/**
 * The running holdouts covering `experiment` (from `holdouts`, any order) as one check:
 * {ids, heldOut: [holdout's first variant...], other: first holdout's second variant,
 * check(unit) -> index (in id order) of the first holdout holding the unit out, or -1};
 * null when none covers it.
 */
export function compileHoldouts(experiment, holdouts) {
  const covering = holdouts
    .filter((h) => holdoutActive(h) && holdoutCovers(h, experiment))
    .sort((a, b) => (a.experimentId < b.experimentId ? -1 : a.experimentId > b.experimentId ? 1 : 0));
  if (covering.length === 0) return null;
  for (const h of covering) {
    const salt = h.assignment?.salt;
    if (typeof salt !== "string" || !salt || !Array.isArray(h.variants) || h.variants.length !== 2) {
      throw new DefinitionError(
        `experiment ${JSON.stringify(h.experimentId)}: a holdout needs assignment.salt (a non-empty ` +
          `string) and exactly two variants (got salt ${JSON.stringify(salt)}, ` +
          `variants ${JSON.stringify(h.variants)})`,
      );
    }
  }
  const names = covering.map((h) => h.variants.map((v) => (typeof v === "string" ? v : v.name)));
  const hashers = covering.map((h) => headHasher(experimentPrefix(h.experimentId, h.assignment.salt)));
  const edges = covering.map((h) => variantEdges(holdoutSplitWeights(h))[0]);
  const n = covering.length;
  return {
    ids: covering.map((h) => h.experimentId),
    heldOut: names.map((pair) => pair[0]),
    other: names[0][1],
    check(unit) {
      for (let i = 0; i < n; i++) {
        hashers[i](unit);
        if (splitWord() < edges[i]) return i; // below the one inner edge: the first variant
      }
      return -1;
    },
  };
}
