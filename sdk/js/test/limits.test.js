// Conditions a hostile definition may hold: bounded nesting and size, the portable regex
// subset and attribute names beginning with $ (the same rules as the Python side).

import assert from "node:assert/strict";
import { test } from "node:test";

import { ConditionError, compileCondition, evaluateCondition, validateCondition } from "../src/index.js";
import { portableProblem, regexProblem } from "../src/regex.js";

function nestedAnd(levels) {
  let condition = { country: "US" };
  for (let i = 0; i < levels; i++) condition = { $and: [condition] };
  return condition;
}

test("5,000 nested $and are one problem at the path where nesting passes 32 levels", () => {
  const problems = validateCondition(nestedAnd(5000), "$.targeting.condition");
  assert.equal(problems.length, 1);
  assert.equal(problems[0][0], "$.targeting.condition" + ".$and[0]".repeat(16));
  assert.throws(() => compileCondition(nestedAnd(5000)), ConditionError);
});

test("a condition of more than 10,000 values is refused at its path", () => {
  const ids = Array.from({ length: 10001 }, (_, i) => i);
  const [[path, , expected]] = validateCondition({ id: { $in: ids } });
  assert.equal(path, "$");
  assert.match(expected, /at most 10000 JSON values/);
});

test("a 500,000-item list is refused without overflowing the call stack", () => {
  const ids = new Array(500000).fill(1);
  const [[path]] = validateCondition({ id: { $in: ids } });
  assert.equal(path, "$");
});

test("top-level keys beginning with $ are attribute names; value operators there are not", () => {
  assert.equal(evaluateCondition({ $groups: "beta" }, { $groups: "beta" }), true);
  assert.equal(evaluateCondition({ "$meta.plan": "pro" }, { $meta: { plan: "pro" } }), true);
  assert.deepEqual(validateCondition({ $in: [1] }).map(([p]) => p), ["$.$in"]);
});

test("the portable scan names what is refused", () => {
  assert.match(portableProblem("(a)\\1"), /backreferences/);
  assert.match(portableProblem("a(?=b)"), /lookarounds/);
  assert.match(portableProblem("\\Aabc"), /no \\A/);
  assert.equal(portableProblem("^(?:chrome|firefox)$"), null);
  assert.match(regexProblem("a".repeat(1001), false), /at most 1000 characters/);
  // code points, as Python counts them: 1,000 emoji are 2,000 UTF-16 units but allowed
  assert.equal(regexProblem("\u{1F600}".repeat(1000), false), null);
});
