// The article's include / exclude lists ("region:US", "bot:true"), docs/targeting.md.
// Entries naming the same attribute are OR-ed, different attributes AND-ed; any matching
// exclude entry excludes. Values compare as strings, the attribute rendered canonically.

import { ConditionError } from "./errors.js";
import { isArray, isObject, own } from "./values.js";

const EXPECTED_ENTRY = "'attribute:value' with a non-empty attribute name, e.g. 'region:US'";

/** Every problem in the lists as [path, value, expected]. */
export function validateRules(include, exclude, path = "$.targeting") {
  const problems = [];
  for (const [name, entries] of [["include", include], ["exclude", exclude]]) {
    const here = `${path}.${name}`;
    if (!isArray(entries)) {
      problems.push([here, entries, "a list of 'attribute:value' strings"]);
      continue;
    }
    entries.forEach((entry, i) => {
      const colon = typeof entry === "string" ? entry.indexOf(":") : -1;
      const attribute = colon >= 0 ? entry.slice(0, colon) : "";
      if (colon < 0 || !attribute.trim() || attribute !== attribute.trim()) {
        problems.push([`${here}[${i}]`, entry, EXPECTED_ENTRY]);
      }
    });
  }
  return problems;
}

/** The canonical text of an attribute value, or null (null, objects). */
export function renderValue(value) {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return BigInt(value).toString();
    // Python's repr: the shortest round-trip digits, exponent form below 1e-4 with a
    // two-digit exponent ("1e-05"); JavaScript switches to exponents only below 1e-6.
    if (Math.abs(value) < 1e-4) {
      return value.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
    }
    return String(value);
  }
  return null;
}

function matches(value, values) {
  if (typeof value === "string") return values.has(value);
  if (value === null || value === undefined) return false;
  if (isArray(value)) return value.some((e) => values.has(renderValue(e)));
  return values.has(renderValue(value));
}

function getter(path) {
  if (!path.includes(".")) return (attributes) => own(attributes, path);
  const parts = path.split(".");
  return (attributes) => {
    let current = attributes;
    for (const part of parts) {
      if (!isObject(current)) return null;
      current = own(current, part);
    }
    return current;
  };
}

function group(entries) {
  const byAttribute = new Map();
  for (const entry of entries) {
    const colon = entry.indexOf(":");
    const attribute = entry.slice(0, colon);
    if (!byAttribute.has(attribute)) byAttribute.set(attribute, new Set());
    byAttribute.get(attribute).add(entry.slice(colon + 1));
  }
  return [...byAttribute].map(([attribute, values]) => [getter(attribute), values]);
}

/** A predicate over attributes (true = targeted); throws ConditionError when malformed. */
export function compileRules(include, exclude) {
  const problems = validateRules(include, exclude);
  if (problems.length) throw new ConditionError(problems);
  const wanted = group(include);
  const unwanted = group(exclude);
  return (attributes) => {
    for (const [get, values] of wanted) if (!matches(get(attributes), values)) return false;
    for (const [get, values] of unwanted) if (matches(get(attributes), values)) return false;
    return true;
  };
}
