// Switchback assignment (the switchback section of docs/assignment.md): the variant of a
// (unit, period) cell. Times are epoch milliseconds; every integer here stays below 2^53.

import { DefinitionError, TimeError } from "./errors.js";
import { PREFIX, hashIntegers, variantEdges, variantIndex } from "./hashing.js";

/** Starts every switchback hashed string (the classic one is "splitlab/v1|"). */
export const SWITCHBACK_PREFIX = `${PREFIX}/switchback`;
/** Times are accepted within JavaScript's Date range, +-8.64e15 ms. */
export const MAX_TIME_MS = 8.64e15;
export const DEFAULT_ORIGIN = "1970-01-01T00:00:00Z";

const ORIGIN =
  /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,3}))?)?(Z|([+-])([01]\d|2[0-3]):([0-5]\d))$/;

// Days since 1970-01-01 of a proleptic Gregorian date (integer arithmetic, any year).
function daysFromCivil(year, month, day) {
  const y = year - (month <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year, month) {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** `origin` text as epoch milliseconds, or null unless it has the one accepted form. */
export function parseOrigin(text) {
  const m = typeof text === "string" ? ORIGIN.exec(text) : null;
  if (m === null) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  const second = Number(m[6] ?? 0);
  const millis = Number((m[7] ?? "").padEnd(3, "0"));
  let offset = m[8] === "Z" ? 0 : (Number(m[10]) * 60 + Number(m[11])) * 60000;
  if (m[9] === "-") offset = -offset;
  const local = ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60000;
  return local + second * 1000 + millis - offset;
}

/** The design's origin in epoch ms; DefinitionError when it is not a valid origin. */
export function originMs(design) {
  const origin = parseOrigin(design.origin ?? DEFAULT_ORIGIN);
  if (origin === null) {
    throw new DefinitionError(
      `design.origin must be an ISO 8601 date-time like 2026-01-01T00:00:00+05:30 (got ${JSON.stringify(design.origin)})`,
    );
  }
  return origin;
}

function periodMs(design) {
  const seconds = design.periodSeconds;
  if (!Number.isInteger(seconds) || seconds < 60) {
    throw new DefinitionError(
      `design.periodSeconds must be an integer of at least 60 (got ${JSON.stringify(seconds)})`,
    );
  }
  return seconds * 1000;
}

// floor(d / p) exactly: the double quotient, corrected by one when it rounded across.
function floorDiv(d, p) {
  let k = Math.floor(d / p);
  if (k * p > d) k -= 1;
  else if ((k + 1) * p <= d) k += 1;
  return k;
}

/** floor((tMs - origin) / period): negative before the origin, 0 from it. */
export function periodIndex(design, tMs) {
  return floorDiv(tMs - originMs(design), periodMs(design));
}

/** The first millisecond of period `k`: origin + k * period. */
export function periodStartMs(design, k) {
  return originMs(design) + k * periodMs(design);
}

/** The exact string hashed for a cell; `unitValue` null is the one global unit. */
export function switchbackInput(experimentId, salt, unitValue, period) {
  const tag = unitValue === null ? "global" : `unit:${unitValue}`;
  return `${SWITCHBACK_PREFIX}|${experimentId}|${salt}|${period}|${tag}`;
}

/** The cell's split integer in [0, 2^48): bytes 0-5 of the SHA-256 digest. */
export function switchbackSplit(experimentId, salt, unitValue, period) {
  return hashIntegers(switchbackInput(experimentId, salt, unitValue, period)).split;
}

function weightsOf(variants) {
  const weighted = variants.some((v) => v.weight !== undefined && v.weight !== null);
  return variants.map((v) => (weighted ? v.weight : 1.0));
}

/** The variant name of a cell of `definition` (the randomised draw only). */
export function switchbackVariant(definition, unitValue, period) {
  if (definition?.design?.type !== "switchback") {
    throw new DefinitionError(
      `experiment ${JSON.stringify(definition?.experimentId)} is not a switchback (design.type must be "switchback")`,
    );
  }
  const variants = definition.variants.map((v) => (typeof v === "string" ? { name: v } : v));
  const split = switchbackSplit(definition.experimentId, definition.assignment.salt, unitValue, period);
  return variants[variantIndex(variantEdges(weightsOf(variants)), split)].name;
}

const TIME_RULE = "epoch milliseconds (an integer within +-8.64e15) or a Date";

/** `at` (epoch ms or a Date) as epoch milliseconds; TimeError naming `field` otherwise. */
export function epochMs(at, field = "at") {
  const millis = at instanceof Date ? at.getTime() : at;
  if (typeof millis !== "number" || !Number.isInteger(millis) || Math.abs(millis) > MAX_TIME_MS) {
    let shown = at instanceof Date ? "an invalid Date" : String(at);
    if (typeof at === "string") shown = JSON.stringify(at);
    throw new TimeError(`${field} must be ${TIME_RULE} (got ${shown})`);
  }
  return millis;
}

/**
 * The assign function of a running switchback: (attributes, tMs) -> answer fields, given
 * `outcome(variant, reason, extra)` to build frozen answers and `targeted` (or null).
 */
export function compileSwitchback(definition, variants, targeted, outcome) {
  const design = definition.design;
  const origin = originMs(design);
  const period = periodMs(design);
  const unitKey = design.unit ?? null;
  const edges = variantEdges(weightsOf(variants));
  const head = `${SWITCHBACK_PREFIX}|${definition.experimentId}|${definition.assignment.salt}|`;
  return (attributes, unitOf, tMs) => {
    const k = floorDiv(tMs - origin, period);
    const cell = { period: k, periodStart: origin + k * period };
    let unit = null;
    if (unitKey !== null) {
      unit = unitOf(unitKey, attributes);
      if (unit === null) return outcome(null, "missing_unit_id", { ...cell, switchbackUnit: null });
    }
    if (targeted !== null && !targeted(attributes)) {
      return outcome(null, "not_targeted", { ...cell, switchbackUnit: unit });
    }
    const { split } = hashIntegers(`${head}${k}|${unit === null ? "global" : `unit:${unit}`}`);
    return outcome(variants[variantIndex(edges, split)].name, "assigned", { ...cell, switchbackUnit: unit });
  };
}
