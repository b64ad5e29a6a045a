// The bucketing algorithm of docs/assignment.md, step by step. All integers are below 2^48,
// so plain JavaScript numbers (doubles, exact up to 2^53) hold them without BigInt.

import { WORDS, prefixHasher, sha256Text } from "./sha256.js";

export const PREFIX = "splitlab/v1";
export const BUCKETS = 2 ** 48;
/** Version tag of a layer's hashed string (docs/assignment.md, "Layers"). */
export const LAYER_PREFIX = "splitlab/layer/v1";
/** Buckets of every layer: a range [start, end) of them is an experiment's share. */
export const LAYER_BUCKETS = 10000;

/** The exact string hashed for `unit`: "splitlab/v1|experimentId|salt|unit". */
export function hashInput(experimentId, salt, unit) {
  return `${PREFIX}|${experimentId}|${salt}|${unit}`;
}

/** The constant head of every hashed string of one experiment (the unit is appended). */
export function experimentPrefix(experimentId, salt) {
  return `${PREFIX}|${experimentId}|${salt}|`;
}

/** The exact string hashed to place `unit` in a layer: "splitlab/layer/v1|layerId|unit". */
export function layerInput(layerId, unit) {
  return `${LAYER_PREFIX}|${layerId}|${unit}`;
}

/** Where layer bucket `bucket` starts on the 48-bit line: ceil(bucket / buckets * 2^48). */
export function layerEdge(bucket, buckets = LAYER_BUCKETS) {
  if (!(Number.isInteger(bucket) && bucket >= 0 && bucket <= buckets)) {
    throw new RangeError(`layer bucket must be an integer in [0, ${buckets}] (got ${bucket})`);
  }
  return Math.ceil((bucket / buckets) * BUCKETS);
}

/** The layer integer of `unit` in layer `layerId` (bytes 0-5 of its digest), in [0, 2^48). */
export function layerInteger(layerId, unit) {
  return read48(sha256Text(layerInput(layerId, unit)), 0);
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

// The hot path: a hasher per constant head (an experiment's or a layer's prefix) that leaves
// the digest's first words in WORDS, where splitWord() and gateWord() read the integers
// without building a digest array or an object per call.

/**
 * A function of a unit (well-formed text) that hashes `head + unit` and leaves the digest's
 * words in WORDS (WORDS[0..2] hold the 12 bytes read). Always the portable SHA-256: for
 * these short messages it beats node:crypto, whose call and Buffer cost more than the hash.
 */
export const headHasher = prefixHasher;

/** The split integer (bytes 0-5) of the last digest left in WORDS. */
export function splitWord() {
  return (WORDS[0] >>> 0) * 0x10000 + (WORDS[1] >>> 16);
}

/** The gate integer (bytes 6-11) of the last digest left in WORDS. */
export function gateWord() {
  return (WORDS[1] & 0xffff) * 0x100000000 + (WORDS[2] >>> 0);
}
