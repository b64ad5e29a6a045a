// Which unit is hashed (docs/assignment.md, "Which unit is hashed"): attributes[hashKey] when
// present and not null, else the unit id; a non-empty well-formed string or an integer.

import { isObject, own } from "./values.js";

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
