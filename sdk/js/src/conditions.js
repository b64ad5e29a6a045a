// The targeting condition language (MongoDB-style JSON, as in GrowthBook's SDKs), with the
// semantics of docs/targeting.md: validated once, compiled into closures, no coercion, and
// type mismatches false by rule (nothing is caught and turned into false).

import { ConditionError } from "./errors.js";
import {
  asciiJson,
  compareStrings,
  equal,
  isArray,
  isNumber,
  isObject,
  own,
  typeName,
} from "./values.js";
import { compareVersions, parseVersion } from "./versions.js";
import { makeRegex, regexProblem } from "./regex.js";

const LOGICAL = ["$and", "$or", "$nor", "$not"];
const ORDERING = ["$gt", "$gte", "$lt", "$lte"];
const VERSIONS = ["$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"];
const LISTS = ["$in", "$nin", "$ini", "$nini", "$all", "$alli"];
const TYPES = ["string", "number", "boolean", "array", "object", "null"];
const OPERATORS = [
  "$eq", "$ne", ...ORDERING, ...LISTS, "$exists", "$type", "$regex", "$regexi", "$size",
  "$elemMatch", "$not", ...VERSIONS, "$inGroup", "$notInGroup",
];
// Keys GrowthBook gives a meaning at the condition level that splitlab does not support.
const UNSUPPORTED = ["$savedGroup", "$savedGroups"];
const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
// Size limits, as in src/splitlab/config/limits.py (docs/targeting.md).
export const MAX_CONDITION_DEPTH = 32;
export const MAX_CONDITION_NODES = 10000;
const VERSION_HINT = "a semantic version string such as '1.2.3' or '2.0.0-rc.1'";

// ------------------------------------------------------------------------------ public API

/** Whether `attributes` satisfy `condition`; throws ConditionError if it is malformed. */
export function evaluateCondition(condition, attributes, savedGroups = {}) {
  return compileCondition(condition, savedGroups)(attributes);
}

/** Validate `condition` and compile it into a predicate over attribute objects. */
export function compileCondition(condition, savedGroups = {}) {
  const problems = validateCondition(condition);
  if (problems.length) throw new ConditionError(problems);
  return new Compiler(savedGroups ?? {}).condition(condition);
}

/** Every problem as [JSON path, bad value, expected]; [] when valid. */
export function validateCondition(condition, path = "$") {
  const tooBig = sizeProblem(condition, path);
  if (tooBig !== null) return [tooBig];
  const problems = [];
  checkCondition(condition, path, problems);
  return problems;
}

/** The path of the first array or object nested deeper than `limit` (iterative), or null. */
function deepestPath(value, limit, path) {
  const stack = [[value, path, 1]];
  while (stack.length) {
    const [current, where, depth] = stack.pop();
    let children;
    if (isArray(current)) children = current.map((v, i) => [v, `${where}[${i}]`]);
    else if (isObject(current)) children = Object.entries(current).map(([k, v]) => [v, child(where, k)]);
    else continue;
    if (depth > limit) return where;
    for (let i = children.length - 1; i >= 0; i--) stack.push([...children[i], depth + 1]);
  }
  return null;
}

function countNodes(value, limit) {
  let count = 0;
  const stack = [value];
  while (stack.length && count <= limit) {
    const current = stack.pop();
    count += 1;
    // a loop, not push(...values): spreading a huge array overflows the call stack
    const values = isArray(current) ? current : isObject(current) ? Object.values(current) : [];
    for (const value of values) stack.push(value);
  }
  return count;
}

function sizeProblem(condition, path) {
  const deep = deepestPath(condition, MAX_CONDITION_DEPTH, path);
  if (deep !== null) {
    return [
      deep,
      `more than ${MAX_CONDITION_DEPTH} levels`,
      `a condition nested at most ${MAX_CONDITION_DEPTH} arrays and objects deep`,
    ];
  }
  if (countNodes(condition, MAX_CONDITION_NODES) > MAX_CONDITION_NODES) {
    return [
      path,
      `more than ${MAX_CONDITION_NODES} values`,
      `a condition of at most ${MAX_CONDITION_NODES} JSON values`,
    ];
  }
  return null;
}

// ------------------------------------------------------------------------------ validation

function child(path, key) {
  return SIMPLE_KEY.test(key) ? `${path}.${key}` : `${path}[${asciiJson(key)}]`;
}

function isOperatorObject(value) {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith("$"));
}

function checkCondition(cond, path, out) {
  if (!isObject(cond)) {
    out.push([path, cond, "an object of attribute paths and $and/$or/$nor/$not"]);
    return;
  }
  for (const [key, value] of Object.entries(cond)) {
    const here = child(path, key);
    if (key === "$and" || key === "$or" || key === "$nor") {
      if (!isArray(value)) {
        out.push([here, value, "a list of conditions"]);
        continue;
      }
      value.forEach((item, i) => checkCondition(item, `${here}[${i}]`, out));
    } else if (key === "$not") {
      checkCondition(value, here, out);
    } else if (!key) {
      out.push([here, key, "an attribute path or one of $and, $or, $nor, $not"]);
    } else if (OPERATORS.includes(key)) {
      const expected = "an attribute path or one of $and, $or, $nor, $not (operators such as ";
      out.push([here, key, `${expected}${key} belong under an attribute path)`]);
    } else if (UNSUPPORTED.includes(key)) {
      const expected = "an attribute path or one of $and, $or, $nor, $not (GrowthBook's ";
      out.push([here, key, `${expected}${key} is not supported: use $inGroup)`]);
    } else {
      checkValue(value, here, out);
    }
  }
}

function checkValue(cond, path, out) {
  if (!isObject(cond) || !Object.keys(cond).some((k) => k.startsWith("$"))) return;
  if (!isOperatorObject(cond)) {
    out.push([path, cond, "only operators (keys starting with $) or only plain keys"]);
    return;
  }
  for (const [op, operand] of Object.entries(cond)) checkOperator(op, operand, child(path, op), out);
}

function checkOperator(op, operand, path, out) {
  let expected = null;
  if (op === "$eq" || op === "$ne") return;
  if (ORDERING.includes(op)) {
    if (!(isNumber(operand) || typeof operand === "string")) expected = "a number or a string";
  } else if (LISTS.includes(op)) {
    if (!isArray(operand)) expected = "a list";
    else if (op === "$all") operand.forEach((item, i) => checkValue(item, `${path}[${i}]`, out));
  } else if (op === "$exists") {
    if (typeof operand !== "boolean") expected = "true or false";
  } else if (op === "$type") {
    if (!TYPES.includes(operand)) expected = `one of ${TYPES.join(", ")}`;
  } else if (op === "$regex" || op === "$regexi") {
    if (typeof operand !== "string") expected = "a regular expression string";
    else {
      expected = regexProblem(operand, op === "$regexi");
    }
  } else if (op === "$size") {
    if (isOperatorObject(operand)) checkValue(operand, path, out);
    else if (!(Number.isInteger(operand) && operand >= 0)) {
      expected = "a non-negative integer or an operator object";
    }
  } else if (op === "$elemMatch") {
    if (isOperatorObject(operand)) checkValue(operand, path, out);
    else if (isObject(operand)) checkCondition(operand, path, out);
    else expected = "an object (a condition or operators for each element)";
  } else if (op === "$not") {
    checkValue(operand, path, out);
  } else if (VERSIONS.includes(op)) {
    if (typeof operand !== "string" || parseVersion(operand) === null) expected = VERSION_HINT;
  } else if (op === "$inGroup" || op === "$notInGroup") {
    if (typeof operand !== "string" || !operand) expected = "a saved group name";
  } else {
    const note = LOGICAL.includes(op) ? " ($and/$or/$nor apply to whole conditions)" : "";
    out.push([path, op, `a known operator${note}: ${OPERATORS.join(" ")}`]);
    return;
  }
  if (expected !== null) out.push([path, operand, expected]);
}

// ------------------------------------------------------------------------------ predicates

/** The value matches, or (for an array) one of its elements does. */
function anyElement(pred) {
  return (v) => pred(v) || (isArray(v) && v.some(pred));
}

function key(value, fold) {
  if (typeof value === "string") return "s" + (fold ? value.toLowerCase() : value);
  if (typeof value === "boolean") return value ? "b1" : "b0";
  if (typeof value === "number") return "n" + String(value);
  if (value === null || value === undefined) return "z";
  return null;
}

/** Equals one of `items` (the value, or for an array the array or one element). */
function membership(items, fold = false) {
  const keys = new Set();
  const others = [];
  for (const item of items) {
    const k = key(item, fold);
    if (k === null) others.push(item);
    else keys.add(k);
  }
  return anyElement((value) => {
    const k = key(value, fold);
    if (k !== null) return keys.has(k);
    return others.some((other) => equal(value, other));
  });
}

const COMPARE = {
  $gt: (c) => c > 0,
  $gte: (c) => c >= 0,
  $lt: (c) => c < 0,
  $lte: (c) => c <= 0,
  $veq: (c) => c === 0,
  $vne: (c) => c !== 0,
  $vgt: (c) => c > 0,
  $vgte: (c) => c >= 0,
  $vlt: (c) => c < 0,
  $vlte: (c) => c <= 0,
};

function ordering(op, x) {
  const accept = COMPARE[op];
  if (isNumber(x)) return anyElement((v) => isNumber(v) && accept(v === x ? 0 : v < x ? -1 : 1));
  return anyElement((v) => typeof v === "string" && accept(compareStrings(v, x)));
}

function version(op, x) {
  const want = parseVersion(x);
  const accept = COMPARE[op];
  return anyElement((v) => {
    if (typeof v !== "string") return false;
    const have = parseVersion(v);
    return have !== null && accept(compareVersions(have, want));
  });
}

function getter(path) {
  const parts = path.split(".");
  return (attributes) => {
    let current = attributes;
    for (const part of parts) {
      if (isObject(current)) current = own(current, part);
      else if (isArray(current) && /^[0-9]+$/.test(part) && Number(part) < current.length) {
        current = current[Number(part)];
      } else return null;
    }
    return current === undefined ? null : current;
  };
}

function every(matchers) {
  if (matchers.length === 0) return () => true;
  if (matchers.length === 1) return matchers[0];
  return (attributes) => matchers.every((m) => m(attributes));
}

function elementEqual(item, fold) {
  if (fold && typeof item === "string") {
    const folded = item.toLowerCase();
    return (e) => typeof e === "string" && e.toLowerCase() === folded;
  }
  return (e) => equal(e, item);
}

class Compiler {
  constructor(savedGroups) {
    this.savedGroups = savedGroups;
  }

  condition(cond) {
    return every(Object.entries(cond).map(([k, v]) => this.entry(k, v)));
  }

  entry(k, v) {
    if (k === "$not") {
      const inner = this.condition(v);
      return (attributes) => !inner(attributes);
    }
    if (k === "$and" || k === "$or" || k === "$nor") {
      const subs = v.map((c) => this.condition(c));
      if (k === "$and") return every(subs);
      if (subs.length === 0) return k === "$or" ? () => true : () => false;
      if (k === "$or") return (attributes) => subs.some((s) => s(attributes));
      return (attributes) => !subs.some((s) => s(attributes));
    }
    const pred = this.value(v);
    if (k.includes(".")) {
      const get = getter(k);
      return (attributes) => pred(get(attributes));
    }
    return (attributes) => pred(own(attributes, k));
  }

  value(cond) {
    if (!isOperatorObject(cond)) return this.operator("$eq", cond);
    const preds = Object.entries(cond).map(([op, operand]) => this.operator(op, operand));
    return preds.length === 1 ? preds[0] : (v) => preds.every((p) => p(v));
  }

  operator(op, x) {
    if (op === "$eq" || op === "$ne") {
      const eq = isArray(x) || isObject(x) ? anyElement((v) => equal(v, x)) : membership([x]);
      return op === "$eq" ? eq : (v) => !eq(v);
    }
    if (ORDERING.includes(op)) return ordering(op, x);
    if (op === "$in" || op === "$nin" || op === "$ini" || op === "$nini") {
      const found = membership(x, op === "$ini" || op === "$nini");
      return op === "$in" || op === "$ini" ? found : (v) => !found(v);
    }
    if (op === "$all" || op === "$alli") {
      const fold = op === "$alli";
      const tests = x.map((i) => (isOperatorObject(i) ? this.value(i) : elementEqual(i, fold)));
      return (v) => isArray(v) && tests.every((t) => v.some((e) => t(e)));
    }
    if (op === "$exists") return x ? (v) => v !== null && v !== undefined : (v) => v == null;
    if (op === "$type") return (v) => typeName(v) === x;
    if (op === "$regex" || op === "$regexi") {
      const regex = makeRegex(x, op === "$regexi");
      return anyElement((v) => typeof v === "string" && regex.test(v));
    }
    if (op === "$size") {
      const size = this.value(x);
      return (v) => isArray(v) && size(v.length);
    }
    if (op === "$elemMatch") {
      let each;
      if (isOperatorObject(x)) each = this.value(x);
      else {
        const sub = this.condition(x);
        each = (e) => isObject(e) && sub(e);
      }
      return (v) => isArray(v) && v.some(each);
    }
    if (op === "$not") {
      const inner = this.value(x);
      return (v) => !inner(v);
    }
    if (VERSIONS.includes(op)) return version(op, x);
    // $inGroup / $notInGroup (validated: nothing else is left); unknown groups are empty.
    const group = Object.hasOwn(this.savedGroups, x) ? this.savedGroups[x] : [];
    const member = membership(group);
    return op === "$inGroup" ? member : (v) => !member(v);
  }
}
