// ExperimentAssignmentService for browsers and Node: the same answers as the Python
// service (docs/assignment.md), computed synchronously from the definitions alone. The
// per-experiment steps live in plans.js; layers, holdouts and sticky stores in their modules.

import { compilePlan, fail, outcome, Reason } from "./plans.js";
import { isHoldout } from "./holdouts.js";
import { MemoryStickyStore } from "./sticky.js";
import { epochMs } from "./switchback.js";

export { Reason } from "./plans.js";
export { resolveUnit, unitText } from "./units.js";

/**
 * Deterministic assignment of units to experiments from their definitions (JSON objects).
 * Options: `clock` returns the current time in epoch ms (Date.now), read only for switchback
 * experiments assigned without the `at` option; `sticky` is the store where sticky
 * experiments keep each unit's first variant (a MemoryStickyStore when absent);
 * `onStickyFailure(error, experimentId, unit)` hears of each store failure (the answer is
 * then sticky_unavailable and `stickyFailures` counts it).
 */
export class ExperimentAssignmentService {
  #plans = new Map();
  #savedGroups = {};
  #clock;
  #context;

  constructor(experiments = [], savedGroups = {}, { clock = Date.now, sticky = null, onStickyFailure = null } = {}) {
    this.#clock = clock;
    /** Where sticky experiments keep each unit's first variant. */
    this.sticky = sticky ?? new MemoryStickyStore();
    /** How many sticky assignments answered sticky_unavailable (the store threw). */
    this.stickyFailures = 0;
    const stickyFailed = (error, experimentId, unit) => {
      this.stickyFailures += 1;
      if (typeof onStickyFailure === "function") {
        try {
          onStickyFailure(error, experimentId, unit);
        } catch {
          // a listener's own failure never reaches the page through an assignment
        }
      }
    };
    this.#context = { holdouts: [], sticky: this.sticky, stickyFailed };
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
    const list = Array.from(experiments);
    const context = { ...this.#context, holdouts: list.filter(isHoldout) };
    const plans = new Map();
    for (const definition of list) {
      const plan = compilePlan(definition, groups, context);
      const id = definition.experimentId;
      if (plans.has(id)) fail(id, "experimentId", id, "unique across experiments");
      plans.set(id, plan);
    }
    this.#plans = plans;
    this.#savedGroups = groups;
  }

  /**
   * {experimentId, variant, reason, inExperiment}; variant is null when none is served. A
   * running switchback adds {period, periodStart, switchbackUnit}; an experiment covered by a
   * running holdout adds {holdoutId, holdoutVariant} once the unit reached the holdout step.
   * `options.at` (epoch ms or a Date) is the time to assign at, the clock's when absent.
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
