"""Bundle size of the JS SDK beside GrowthBook's JavaScript SDK, minified and gzipped.

Run: ``.venv-bench/bin/python bench/sdk_bundle.py`` (needs node and npm with the npm registry).

esbuild and ``@growthbook/growthbook`` are installed from npm (pinned versions below) into a
temporary directory; nothing is added to the checkout. Rows:

* ``splitlab assignment`` - sdk/js/src/index.js (the assignment SDK: service, targeting,
  layers, holdouts, sticky stores, SHA-256) bundled by esbuild;
* ``splitlab package`` - sdk/js/src/main.js (assignment plus the network client), when the
  checkout has it;
* ``growthbook dist/bundles/...`` - the minified bundles GrowthBook ships, as published;
* ``growthbook esm entry`` - GrowthBook's ESM entry (its package.json "module") bundled by
  esbuild exactly as splitlab's rows are, dependencies included.

Every esbuild row uses the same options: ``--bundle --minify --format=esm
--platform=browser --target=es2020``. gzip is zlib level 9 (``gzip -9``).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ESBUILD = "0.28.2"  # the version sdk/js's own build pins
GROWTHBOOK = "1.8.0"
ESBUILD_ARGS = ["--bundle", "--minify", "--format=esm", "--platform=browser", "--target=es2020"]


def install(prefix: Path) -> None:
    """esbuild and GrowthBook's SDK from npm into `prefix`."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing: install Node.js (scripts/install-system-deps.sh)")
    (prefix / "package.json").write_text('{"private": true}\n')
    subprocess.run(
        [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"esbuild@{ESBUILD}",
            f"@growthbook/growthbook@{GROWTHBOOK}",
        ],
        cwd=prefix,
        check=True,
    )


def bundle(prefix: Path, entry: Path, out: Path) -> Path:
    """`entry` bundled and minified by esbuild into `out`."""
    subprocess.run(
        [str(prefix / "node_modules/.bin/esbuild"), str(entry), *ESBUILD_ARGS, f"--outfile={out}"],
        cwd=prefix,
        check=True,
        capture_output=True,
    )
    return out


def sizes(path: Path) -> tuple[int, int]:
    """(bytes, gzip -9 bytes) of a file."""
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sdk-bundle-") as tmp:
        prefix = Path(tmp)
        install(prefix)
        growthbook = prefix / "node_modules/@growthbook/growthbook"
        module = json.loads((growthbook / "package.json").read_text())["module"]
        rows: list[tuple[str, Path]] = [
            (
                "splitlab assignment (src/index.js)",
                bundle(prefix, ROOT / "sdk/js/src/index.js", prefix / "splitlab-index.js"),
            )
        ]
        main_js = ROOT / "sdk/js/src/main.js"
        if main_js.exists():
            rows.append(
                (
                    "splitlab package (src/main.js)",
                    bundle(prefix, main_js, prefix / "splitlab-main.js"),
                )
            )
        for name in ("index.min.js", "esm.min.js"):
            shipped = growthbook / "dist/bundles" / name
            if shipped.exists():
                rows.append((f"growthbook dist/bundles/{name}", shipped))
        rows.append(
            (
                f"growthbook esm entry ({module})",
                bundle(prefix, growthbook / module, prefix / "growthbook-esm.js"),
            )
        )
        print(
            f"esbuild {ESBUILD} ({' '.join(ESBUILD_ARGS)}), @growthbook/growthbook {GROWTHBOOK}; "
            "gzip -9"
        )
        base = sizes(rows[0][1])
        print(f"{'bundle':<48} {'minified':>10} {'gzipped':>10} {'gz vs splitlab':>15}")
        for name, path in rows:
            raw, packed = sizes(path)
            print(f"{name:<48} {raw:>10,} {packed:>10,} {packed / base[1]:>14.2f}x")


if __name__ == "__main__":
    main()
