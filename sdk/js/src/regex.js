// Regular expressions of $regex / $regexi: the syntax RE2 (the Python service's engine) and
// JavaScript's RegExp with the `u` flag agree on. The same scan as
// src/splitlab/config/regex.py, so both SDKs refuse the same patterns (docs/targeting.md).

export const MAX_REGEX_LENGTH = 1000;
// RE2 refuses a repetition count above 1000 (a{1001}); so does the portable scan.
export const MAX_REPEAT = 1000;
const LETTER_ESCAPES = "dDwWsSbBnrtfv";
const CLASS_LETTER_ESCAPES = "dDwWsSnrtfv";
const SYNTAX = "^$\\.*+?()[]{}|/";
const HEX = /^[0-9a-fA-F]{2}$/;

const CLASS_ESCAPES = "dDwWsS";
const RANGE = "no range with a class escape such as [\\d-z] (JavaScript refuses it)";
const ASSERTION = "no quantifier on ^, $, \\b or \\B (JavaScript refuses it)";

// Whether a '-' at `i` (inside a class) starts a range, i.e. is not the class's end.
function opensRange(pattern, i) {
  return pattern[i] === "-" && i + 1 < pattern.length && pattern[i + 1] !== "]";
}

// Whether a quantifier (* + ? or a { repetition) starts at `i`.
function quantifier(pattern, i) {
  const next = pattern[i];
  return ["*", "+", "?"].includes(next) || (next === "{" && repeatEnd(pattern, i) > 0);
}

function escapeProblem(pattern, i, inClass) {
  const next = pattern.slice(i + 1, i + 2);
  if (!next) return "no '\\' at the end of the pattern";
  if (/[0-9]/.test(next)) return `no \\${next}: backreferences and octal escapes are not portable`;
  if (next === "x") {
    return HEX.test(pattern.slice(i + 2, i + 4))
      ? null
      : "\\x followed by exactly two hex digits (like \\x41)";
  }
  const allowed = inClass ? CLASS_LETTER_ESCAPES : LETTER_ESCAPES;
  if (/[A-Za-z]/.test(next)) {
    if (allowed.includes(next)) return null;
    const listed = [...allowed].map((c) => "\\" + c).join(" ");
    return `no \\${next}: only the letter escapes ${listed} and \\xHH are portable`;
  }
  if (SYNTAX.includes(next) || (inClass && next === "-")) return null;
  return `no \\${next}: only syntax characters ^$\\.*+?()[]{}|/ may be escaped`;
}

function repeatEnd(pattern, i) {
  const close = pattern.indexOf("}", i);
  if (close < 0) return -1;
  const body = pattern.slice(i + 1, close);
  const match = /^([0-9]+)(?:,([0-9]*))?$/.exec(body);
  if (!match) return -1;
  const [, low, high] = match;
  if (Number(low) > MAX_REPEAT || (high && Number(high) > MAX_REPEAT)) return -1;
  return close + 1;
}

/** Why `pattern` is outside the syntax RE2 and JavaScript share, or null when inside. */
export function portableProblem(pattern) {
  let i = 0;
  let inClass = false;
  let classStart = 0;
  const n = pattern.length;
  while (i < n) {
    const char = pattern[i];
    if (char === "\\") {
      const problem = escapeProblem(pattern, i, inClass);
      if (problem) return problem;
      if (inClass && CLASS_ESCAPES.includes(pattern[i + 1]) && opensRange(pattern, i + 2)) {
        return RANGE;
      }
      if (!inClass && "bB".includes(pattern[i + 1]) && quantifier(pattern, i + 2)) return ASSERTION;
      i += pattern[i + 1] === "x" ? 4 : 2;
      continue;
    }
    if (inClass) {
      if (char === "]") inClass = false;
      else if (char === "[" && pattern[i + 1] === ":") {
        return "no POSIX classes such as [[:alpha:]] (they are not portable)";
      } else if (
        char === "-" &&
        i > classStart &&
        pattern[i + 1] === "\\" &&
        i + 2 < n &&
        CLASS_ESCAPES.includes(pattern[i + 2])
      ) {
        return RANGE;
      }
      i += 1;
      continue;
    }
    if ((char === "^" || char === "$") && quantifier(pattern, i + 1)) return ASSERTION;
    if (char === "[") {
      const start = pattern[i + 1] === "^" ? i + 2 : i + 1;
      if (pattern[start] === "]") {
        return "no class starting with ']' ([] and []...] differ between engines)";
      }
      inClass = true;
      i = start;
      classStart = start;
      continue;
    }
    if (char === "(" && pattern[i + 1] === "?" && pattern[i + 2] !== ":") {
      return (
        "no (?...) group other than (?:...): lookarounds, named groups and inline " +
        "flags are not portable"
      );
    }
    if (char === "{") {
      const end = repeatEnd(pattern, i);
      if (end < 0) return "'{' only in a repetition such as {2}, {2,} or {2,5} (escape it: \\{)";
      i = end;
      continue;
    }
    if (char === "}" || char === "]") return `'${char}' escaped (\\${char}) outside a character class`;
    i += 1;
  }
  return null;
}

export function makeRegex(pattern, ignoreCase) {
  return new RegExp(pattern, ignoreCase ? "iu" : "u");
}

/** Why `pattern` is refused (too long, not portable, or RegExp refuses it), or null. */
export function regexProblem(pattern, ignoreCase) {
  const length = [...pattern].length; // code points, as Python counts them
  if (length > MAX_REGEX_LENGTH) {
    return `a pattern of at most ${MAX_REGEX_LENGTH} characters (this one has ${length})`;
  }
  const problem = portableProblem(pattern);
  if (problem !== null) return `a portable regular expression (${problem})`;
  try {
    makeRegex(pattern, ignoreCase);
    return null;
  } catch (error) {
    if (error instanceof SyntaxError) return `a valid regular expression (${error.message})`;
    throw error;
  }
}
