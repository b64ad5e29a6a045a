// The bucketing algorithm of docs/assignment.md, step by step. All integers are below 2^48,
// so plain JavaScript numbers (doubles, exact up to 2^53) hold them without BigInt.

import { sha256Text } from "./sha256.js";

export const PREFIX = "splitlab/v1";
export const BUCKETS = 2 ** 48;

/** The exact string hashed for `unit`: "splitlab/v1|experimentId|salt|unit". */
export function hashInput(experimentId, salt, unit) {
  return `${PREFIX}|${experimentId}|${salt}|${unit}`;
}

/** Six bytes from `offset`, big-endian, as a number in [0, 2^48). */
function read48(d, offset) {
  return (
    d[offset] * 0x10000000000 +
    d[offset + 1] * 0x100000000 +
    d[offset + 2] * 0x1000000 +
    d[offset + 3] * 0x10000 +
    d[offset + 4] * 0x100 +
    d[offset + 5]
  );
}

/** The digest, split integer (bytes 0-5) and gate integer (bytes 6-11) of a hashed string. */
export function hashIntegers(text) {
  const digest = sha256Text(text);
  return { digest, split: read48(digest, 0), gate: read48(digest, 6) };
}

/** Gate threshold: a unit is exposed when its gate integer is below ceil(a * 2^48). */
export function allocationThreshold(trafficAllocation) {
  if (!(trafficAllocation >= 0 && trafficAllocation <= 1)) {
    throw new RangeError(`traffic allocation must be in [0, 1] (got ${trafficAllocation})`);
  }
  return Math.ceil(trafficAllocation * BUCKETS);
}

/** Inner edges ceil(c_k / c_n * 2^48), c_k the left-to-right double sums of the weights. */
export function variantEdges(weights) {
  if (weights.length < 1 || weights.some((w) => !(w > 0 && Number.isFinite(w)))) {
    throw new RangeError(`weights must be positive finite numbers (got ${JSON.stringify(weights)})`);
  }
  const sums = [];
  let running = 0;
  for (const w of weights) {
    running += w;
    sums.push(running);
  }
  const total = sums[sums.length - 1];
  return sums.slice(0, -1).map((c) => Math.ceil((c / total) * BUCKETS));
}

/** The 0-based variant owning `split`: the number of inner edges <= split. */
export function variantIndex(edges, split) {
  let index = 0;
  while (index < edges.length && edges[index] <= split) index++;
  return index;
}

/** A 48-bit integer as a number in [0, 1), exact. */
export function bucketOf(value) {
  return value / BUCKETS;
}
