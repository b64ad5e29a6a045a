// Errors the SDK raises on purpose: a malformed definition, never a quiet "not targeted".

import { asciiJson } from "./values.js";

function render(value) {
  const text = value === undefined ? "null" : asciiJson(value) ?? String(value);
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}

/** A malformed targeting rule or condition; `problems` lists [path, value, expected]. */
export class ConditionError extends Error {
  constructor(problems) {
    const [path, value, expected] = problems[0];
    const rest = problems.length - 1;
    const more = rest ? ` (and ${rest} more problem${rest > 1 ? "s" : ""})` : "";
    super(`${path}: expected ${expected} (got ${render(value)})${more}`);
    this.name = "ConditionError";
    this.code = "invalid_condition";
    this.problems = problems;
  }
}

/** An experiment definition the SDK cannot use; the message names the field and value. */
export class DefinitionError extends Error {
  constructor(message) {
    super(message);
    this.name = "DefinitionError";
    this.code = "invalid_definition";
  }
}

/** A time given for a switchback assignment that is not a usable instant. */
export class TimeError extends RangeError {
  constructor(message) {
    super(message);
    this.name = "TimeError";
    this.code = "invalid_time";
  }
}

/** A sticky store could not say or keep a unit's variant (the answer is sticky_unavailable). */
export class StickyStoreError extends Error {
  constructor(message) {
    super(message);
    this.name = "StickyStoreError";
    this.code = "sticky_unavailable";
  }
}
