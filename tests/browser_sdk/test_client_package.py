"""The npm package: what `npm pack` ships, and the <script> bundle in real Chromium.

The bundles are built by `make sdk` (``npm ci`` + ``npm run build`` in sdk/js, run by
``make unit`` and ``make test``) into sdk/js/dist/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.browser_sdk.client_env import ClientPage, Serve, client_page, experiment, serve
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
__all__ = ["client_page", "serve"]  # fixtures used by name

SDK = ROOT / "sdk" / "js"
BUNDLE = "sdk/js/dist/splitlab.min.js"


def built() -> None:
    if not (ROOT / BUNDLE).exists():
        pytest.fail("sdk/js/dist/ is not built: run `make sdk` (npm ci and npm run build)")


def test_npm_pack_ships_dist_src_types_and_readme() -> None:
    """`npm pack --dry-run` lists the bundles, the ES sources, the declarations and the README,
    and every path the package.json exports names is among them."""
    built()
    npm = shutil.which("npm")
    assert npm is not None, "npm is missing: run scripts/install-system-deps.sh"
    proc = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--ignore-scripts"],
        cwd=SDK, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = {entry["path"] for entry in json.loads(proc.stdout)[0]["files"]}
    assert {"README.md", "package.json", "dist/splitlab.min.js", "dist/splitlab.esm.js",
            "src/main.js", "src/client.js", "types/index.d.ts", "types/client.d.ts"} <= files  # fmt: skip
    assert not any(f.startswith(("node_modules/", "test/")) for f in files)
    manifest = json.loads((SDK / "package.json").read_text("utf-8"))

    def targets(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        return [t for value in node.values() for t in targets(value)]

    exported = [*targets(manifest["exports"]), manifest["module"], manifest["types"]]
    assert {path.removeprefix("./") for path in exported} <= files
    assert manifest["devDependencies"]["esbuild"][0].isdigit(), "an exact pinned version"


def test_the_script_tag_bundle_exposes_the_same_api(serve: Serve, client_page: ClientPage) -> None:
    """Loaded by <script>, the bundle defines the global `splitlab` with the ES module's
    exports, and its client serves the same variants from a real server."""
    built()
    serve.register(experiment("exp-bundle", variants=("control", "a", "b")))
    page = client_page.page
    page.add_script_tag(url=f"{client_page.base}/{BUNDLE}")
    names = page.evaluate(
        """async (module) => {
            const m = await import(module);
            return [Object.keys(m).sort(), Object.keys(window.splitlab).sort()];
        }""",
        f"{client_page.base}/sdk/js/src/main.js",
    )
    assert names[0] == names[1]
    assert "createClient" in names[1]
    rows = page.evaluate(
        """async ([module, url, sdkKey]) => {
            const m = await import(module);
            const opts = { url, sdkKey, stream: false, cache: null, trackExposures: false };
            const viaScript = window.splitlab.createClient(opts);
            const viaModule = m.createClient(opts);
            await Promise.all([viaScript.ready(), viaModule.ready()]);
            const units = Array.from({ length: 50 }, (_, i) => `user-${i}`);
            return units.map((u) => [viaScript.getVariant("exp-bundle", { unitId: u }),
                                     viaModule.getVariant("exp-bundle", { unitId: u })]);
        }""",
        [f"{client_page.base}/sdk/js/src/main.js", serve.url, serve.sdk_key],
    )
    assert all(script == module for script, module in rows)
    assert {script["source"] for script, _ in rows} == {"config"}
    assert len({script["variant"] for script, _ in rows}) == 3
    assert client_page.errors == []
