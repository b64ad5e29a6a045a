// npm run build: the single-file bundles of dist/ (gitignored), from src/main.js.
//   dist/splitlab.min.js  minified IIFE for a <script> tag, global `splitlab`
//   dist/splitlab.esm.js  minified ES module (one file, for import maps and CDNs)
// Prints each file's size, raw and gzipped.

import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const common = {
  entryPoints: ["src/main.js"],
  bundle: true,
  minify: true,
  target: ["es2020"],
  legalComments: "none",
  logLevel: "warning",
};

const outputs = [
  { ...common, format: "iife", globalName: "splitlab", platform: "browser", outfile: "dist/splitlab.min.js" },
  { ...common, format: "esm", platform: "neutral", outfile: "dist/splitlab.esm.js" },
];

for (const options of outputs) {
  await build(options);
  const bytes = readFileSync(options.outfile);
  if (!process.argv.includes("--quiet")) {
    console.log(`${options.outfile}: ${bytes.length} bytes, ${gzipSync(bytes).length} gzipped`);
  }
}
