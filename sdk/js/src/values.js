// JSON value helpers shared by the targeting rules and conditions (docs/targeting.md).

export const isArray = Array.isArray;

/** A JSON object: not null, not an array. */
export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

export function isNumber(value) {
  return typeof value === "number";
}

/** An own property of an object, or null when absent (a missing attribute reads as null). */
export function own(object, key) {
  if (Object.hasOwn(object, key)) {
    const value = object[key];
    return value === undefined ? null : value;
  }
  return null;
}

/** Compare two strings by Unicode code point, as Python does (-1, 0, 1). */
export function compareStrings(a, b) {
  if (a === b) return 0;
  const surrogates = /[\uD800-\uDFFF]/;
  if (!surrogates.test(a) && !surrogates.test(b)) return a < b ? -1 : 1;
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/** JSON equality without coercion: 1 == 1.0, true != 1, "1" != 1, objects key by key. */
export function equal(a, b) {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (typeof a === "string") return typeof b === "string" && a === b;
  if (typeof a === "boolean" || typeof b === "boolean") {
    return typeof a === "boolean" && typeof b === "boolean" && a === b;
  }
  if (typeof a === "number") return typeof b === "number" && a === b;
  if (a === null || b === null) return a === b;
  if (isArray(a)) {
    return isArray(b) && a.length === b.length && a.every((item, i) => equal(item, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    const other = Object.keys(b);
    return (
      keys.length === other.length &&
      keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]))
    );
  }
  return false;
}

export function typeName(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return "number";
  if (typeof value === "string") return "string";
  if (isArray(value)) return "array";
  if (isObject(value)) return "object";
  return "unknown";
}

/** JSON.stringify with non-ASCII escaped as \uXXXX (Python's json.dumps default). */
export function asciiJson(value) {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}
