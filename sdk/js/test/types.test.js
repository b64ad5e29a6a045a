// The TypeScript declarations (types/): every export of src/index.js is declared, and a
// usage file compiles under `tsc --strict` with the TypeScript pinned in package.json
// (its wrong uses, marked as expected errors, must be errors).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as sdk from "../src/index.js";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const declarations = readFileSync(here("../types/assignment.d.ts"), "utf-8");

test("every export of src/index.js is declared in types/assignment.d.ts", () => {
  const declared = new Set(
    [...declarations.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]),
  );
  const missing = Object.keys(sdk).filter((name) => !declared.has(name));
  assert.deepEqual(missing, []);
  const stale = [...declared].filter((name) => !(name in sdk));
  assert.deepEqual(stale, []);
});

test("the usage file type-checks with the pinned TypeScript", () => {
  const pkg = JSON.parse(readFileSync(here("../package.json"), "utf-8"));
  const version = pkg.devDependencies?.typescript;
  assert.match(version ?? "", /^\d+\.\d+\.\d+$/, "package.json pins devDependencies.typescript");
  const local = here("../node_modules/.bin/tsc");
  const [command, args] = existsSync(local)
    ? [local, []]
    : ["npx", ["-y", "-p", `typescript@${version}`, "tsc"]];
  let output;
  try {
    output = execFileSync(command, [...args, "-p", here("types/tsconfig.json")], {
      encoding: "utf-8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 180_000,
    });
  } catch (error) {
    assert.fail(
      `tsc (typescript@${version}) failed or could not be installed:\n${error.stdout ?? ""}${error.stderr ?? ""}`,
    );
  }
  assert.equal(output.trim(), "");
});
