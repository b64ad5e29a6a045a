// The browser path: with no synchronous native hash, the portable SHA-256 gives the same
// assignments as the vectors (run in a child process without process.getBuiltinModule).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

test("assignments match the vectors with the portable hash", () => {
  const script = `
    delete process.getBuiltinModule;
    const { readFileSync } = await import("node:fs");
    const sdk = await import(${JSON.stringify(new URL("../src/index.js", import.meta.url).href)});
    const spec = JSON.parse(readFileSync(${JSON.stringify(
      fileURLToPath(new URL("../../../spec/assignment-cases.json", import.meta.url)),
    )}, "utf-8"));
    let wrong = 0;
    for (const c of spec.assignments) {
      const got = new sdk.ExperimentAssignmentService([c.experiment])
        .assign(c.unitId, c.experiment.experimentId, c.attributes);
      if (got.variant !== c.variant || got.reason !== c.reason) wrong++;
    }
    for (const h of spec.hashes) {
      const { split, gate } = sdk.hashIntegers(h.input);
      if (split !== h.split || gate !== h.gate) wrong++;
    }
    console.log(JSON.stringify({ native: sdk.nativeHash, wrong }));
  `;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf-8",
  });
  assert.deepEqual(JSON.parse(out), { native: false, wrong: 0 });
});
