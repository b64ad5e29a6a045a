// Which unit (and cluster) an experiment's events name, from its definition and the call's
// unit id and attributes, as the Python tracking middleware does (tracked_ids): classic
// designs track the hashed unit; a cluster design tracks the analysis unit with the hashed
// unit (e.g. the account) as clusterId; a switchback the measured unit with the switchback
// unit's value as clusterId.

import { resolveUnit, unitText } from "./service.js";

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

/** {unit, cluster} for events of `definition` (null unit: nothing is tracked). */
export function trackedIds(definition, unitId, attributes) {
  const attrs = isObject(attributes) ? attributes : {};
  const design = isObject(definition?.design) ? definition.design : {};
  const hashKey = definition?.assignment?.hashKey ?? "userId";
  if (design.type === "cluster") {
    const cluster = resolveUnit(hashKey, null, attrs);
    if (cluster === null) return { unit: null, cluster: null };
    return { unit: resolveUnit(design.analysisUnit ?? "userId", unitId, attrs), cluster };
  }
  const unit = resolveUnit(hashKey, unitId, attrs);
  if (design.type === "switchback" && typeof design.unit === "string") {
    const value = Object.hasOwn(attrs, design.unit) ? attrs[design.unit] : null;
    return { unit, cluster: value === null ? null : unitText(value) };
  }
  return { unit, cluster: null };
}

/** The attributes an event may carry: strings, finite numbers and booleans, at most 32. */
export function scalarAttributes(attributes, limit = 32) {
  if (!isObject(attributes)) return null;
  const out = {};
  let count = 0;
  for (const [name, value] of Object.entries(attributes)) {
    if (count >= limit || name.length > 256) continue;
    const ok = (typeof value === "string" && value.length <= 256) || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
    if (ok) {
      out[name] = value;
      count += 1;
    }
  }
  return count > 0 ? out : null;
}
