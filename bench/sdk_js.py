"""JS SDK speed in Chromium and in Node beside the Python service, on the same units.

Run: ``.venv-bench/bin/python bench/sdk_js.py`` (needs /usr/bin/chromium, Python Playwright,
node, and git for the baseline).

One round = ``assign()`` for each of 100,000 distinct units (``user-0`` ...), each unit with
its own attributes object, on one of three cases:

* ``article`` - the article's experiment (3 variants, its include/exclude targeting,
  allocation 1.0 so every unit is targeted, hashed and split): one digest per unit;
* ``layer`` - the same experiment in a layer, range [0, 10000): every unit is in range, so
  one digest more (the layer's);
* ``holdout`` - the same experiment tagged ``checkout`` and covered by a running 5% holdout:
  one digest more (the holdout's); 5% of units answer ``holdout``.

The runtimes take turns, round by round, in one run:

* ``chromium`` - sdk/js as an ES module in headless Chromium (Debian's), served by a local
  http.server: the browser's path, with the SDK's portable SHA-256.
* ``node`` - sdk/js in Node (its assignments use the same portable SHA-256: for these short
  strings it is faster than node:crypto's call).
* ``baseline`` rows - sdk/js/src as of commit BASELINE (before the hash was reworked: a
  TextEncoder per call, a Uint32Array schedule, a 32-byte digest and an object per call),
  extracted with ``git archive`` and run the same way; in Node it hashed with node:crypto,
  and with ``process.getBuiltinModule`` hidden it took the browser's portable path.
* ``python: assign()`` and ``python: assign_many()`` - splitlab's Python service.

Each JavaScript round is timed inside its runtime (``performance.now()``), so process and
page round trips are not counted; Python rounds with ``time.perf_counter()``. Every runtime
returns its count of units per (variant, reason) for its case, and the script checks that
they agree across runtimes.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.config import load_experiment

ROOT = Path(__file__).resolve().parent.parent
#: The SDK before this bench's hash work: the contract commit of layers and holdouts.
BASELINE = "d05bdeb"
N = 100_000
ROUNDS = 7
WARMUP = 1
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: The JavaScript round, shared by Chromium and Node: build the service and the units once,
#: then each call assigns every unit and returns the milliseconds and the variant counts.
JS_BENCH = """
function makeBench(sdk, definitions, n) {
  const service = new sdk.ExperimentAssignmentService(definitions);
  const id = definitions[0].experimentId;
  const units = [];
  const attrs = [];
  for (let i = 0; i < n; i++) {
    const unit = `user-${i}`;
    units.push(unit);
    attrs.push({ region: "US", accountType: "free", plan: "pro", id: unit });
  }
  const out = new Array(n);
  return () => {
    const start = performance.now();
    for (let i = 0; i < n; i++) out[i] = service.assign(units[i], id, attrs[i]);
    const ms = performance.now() - start;
    const counts = {};
    for (const a of out) {
      const key = `${a.variant}/${a.reason}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return { ms, counts, native: sdk.nativeHash };
  };
}
"""

#: Node side: one process per hash path, one round per line read on stdin.
NODE_SCRIPT = (
    JS_BENCH
    + """
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
const [sdkPath, definitionsJson, n, portable] = process.argv.slice(1);
if (portable === "portable") delete process.getBuiltinModule;
const sdk = await import(pathToFileURL(sdkPath).href);
const round = makeBench(sdk, JSON.parse(definitionsJson), Number(n));
for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(JSON.stringify(round()) + "\\n");
}
"""
)


def definition() -> dict[str, Any]:
    """The article's experiment at allocation 1.0, as JSON (bench/assignment.py's case)."""
    raw: dict[str, Any] = json.loads((ROOT / "examples" / "exp-checkout-flow-v3.json").read_text())
    raw["trafficAllocation"] = 1.0
    return raw


def cases() -> dict[str, list[dict[str, Any]]]:
    """Each case's definitions, the benchmarked experiment first."""
    article = definition()
    layered = {**article, "layer": {"id": "checkout", "start": 0, "end": 10_000}}
    covered = {**article, "tags": ["checkout"]}
    holdout = {
        "experimentId": "holdout-checkout",
        "status": "running",
        "variants": ["held_out", "exposed"],
        "assignment": {"hashKey": "userId", "salt": "holdout-salt"},
        "metrics": {"primary": {"name": "checkout_completion_rate", "type": "conversion"}},
        "design": {"type": "holdout", "percent": 5, "scope": {"tags": ["checkout"]}},
    }
    return {"article": [article], "layer": [layered], "holdout": [covered, holdout]}


@contextmanager
def baseline_sdk() -> Iterator[Path | None]:
    """sdk/js/src at BASELINE in a temporary directory (None when git cannot provide it)."""
    with tempfile.TemporaryDirectory(prefix="sdk-baseline-") as tmp:
        archive = Path(tmp) / "src.tar"
        proc = subprocess.run(
            ["git", "archive", "-o", str(archive), BASELINE, "sdk/js/src"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"git archive {BASELINE} failed: the baseline rows are skipped")
            yield None
            return
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / "sdk/js/src"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the checkout, and /baseline/ from the baseline directory, without logging."""

    baseline: Path | None = None

    def translate_path(self, path: str) -> str:
        if self.baseline is not None and path.startswith("/baseline/"):
            rest = path.split("?", 1)[0].removeprefix("/baseline/")
            return str(self.baseline / os.path.normpath(rest).lstrip("/."))
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged."""


@contextmanager
def static_server(baseline: Path | None) -> Iterator[str]:
    """An http.server on 127.0.0.1 (a free port) over the checkout; yields its base URL."""
    handler = type("Handler", (QuietHandler,), {"baseline": baseline})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(ROOT))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class NodeRunner:
    """A Node process holding the SDK; each ``round()`` asks it for one timed round."""

    def __init__(
        self, node: str, sdk: Path, definitions: list[dict[str, Any]], *, portable: bool
    ) -> None:
        args = [str(sdk / "index.js"), json.dumps(definitions), str(N)]
        args.append("portable" if portable else "native")
        self.proc = subprocess.Popen(
            [node, "--input-type=module", "-e", NODE_SCRIPT, "--", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def round(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"node exited with status {self.proc.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def python_rounds(
    definitions: list[dict[str, Any]], *, batch: bool = True
) -> dict[str, Callable[[], dict[str, Any]]]:
    """The Python service's rounds: assign() per unit, and assign_many() over all units."""
    experiments = [load_experiment(raw) for raw in definitions]
    eid = experiments[0].experiment_id
    service = ExperimentAssignmentService(experiments)
    units = [f"user-{i}" for i in range(N)]
    attrs = [{"region": "US", "accountType": "free", "plan": "pro", "id": u} for u in units]
    assert all(
        a.reason in (Reason.ASSIGNED, Reason.HOLDOUT)
        for a in service.assign_many(eid, units, attrs)
    )

    def timed(run: Callable[[], list[Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        out = run()
        ms = (time.perf_counter() - start) * 1e3
        return {"ms": ms, "counts": dict(Counter(f"{a.variant}/{a.reason}" for a in out))}

    def single() -> dict[str, Any]:
        assign = service.assign
        return timed(lambda: [assign(u, eid, a) for u, a in zip(units, attrs, strict=True)])

    def many() -> dict[str, Any]:
        return timed(lambda: service.assign_many(eid, units, attrs))

    rounds = {"python: assign()": single}
    if batch:
        rounds["python: assign_many()"] = many
    return rounds


def main() -> None:
    node = shutil.which("node")
    rounds: dict[str, Callable[[], dict[str, Any]]] = {}
    case_of: dict[str, str] = {}
    runners: list[NodeRunner] = []
    sdk = ROOT / "sdk/js/src"
    with baseline_sdk() as old, static_server(old) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/sdk/js/package.json")
        version = browser.version
        page.evaluate("() => { window.benchRounds = {}; }")
        # (row name, case, SDK URL for Chromium, SDK directory for Node, Node hash path)
        plan: list[tuple[str, str, str, Path, bool]] = []
        if old is not None:
            plan.append(
                (f"baseline {BASELINE}", "article", f"{base}/baseline/index.js", old, False)
            )
        for case in ("article", "layer", "holdout"):
            plan.append((case, case, f"{base}/sdk/js/src/index.js", sdk, True))
        definitions = cases()
        for label, case, url, _, _ in plan:
            name = f"chromium: {label}"
            page.evaluate(
                "async ([name, url, definitions, n]) => {"
                + JS_BENCH
                + "const sdk = await import(url);"
                " window.benchRounds[name] = makeBench(sdk, definitions, n); }",
                [name, url, definitions[case], N],
            )
            rounds[name] = partial(page.evaluate, "(name) => window.benchRounds[name]()", name)
            case_of[name] = case
        if node is not None:
            for label, case, _, directory, is_new in plan:
                paths = [True] if is_new else [False, True]
                for portable in paths:
                    runner = NodeRunner(node, directory, definitions[case], portable=portable)
                    runners.append(runner)
                    suffix = "" if is_new else (" (portable)" if portable else " (node:crypto)")
                    name = f"node: {label}{suffix}"
                    rounds[name] = runner.round
                    case_of[name] = case
        else:
            print("node is not installed: the Node rows are skipped")
        for case in ("article", "layer", "holdout"):
            for name, run in python_rounds(definitions[case], batch=case == "article").items():
                label = name if case == "article" else f"{name} {case}"
                rounds[label] = run
                case_of[label] = case
        try:
            times, counts, native = run_alternately(rounds)
        finally:
            for runner in runners:
                runner.close()
            browser.close()
    node_version = "-"
    if node is not None:
        node_version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    print(
        f"Chromium {version}, Node {node_version}, "
        f"Python {sys.version.split()[0]}; {N:,} units per round, {ROUNDS} alternating rounds"
    )
    print_table(times, native, case_of)
    for case in ("article", "layer", "holdout"):
        seen = {json.dumps(c, sort_keys=True) for n, c in counts.items() if case_of[n] == case}
        first = next(c for n, c in counts.items() if case_of[n] == case)
        print(f"{case}: {dict(sorted(first.items()))}; all runtimes agree: {len(seen) == 1}")
        if len(seen) != 1:
            raise SystemExit(f"runtimes disagree on {case}: {counts}")


def run_alternately(
    rounds: dict[str, Callable[[], dict[str, Any]]],
) -> tuple[dict[str, list[float]], dict[str, dict[str, int]], dict[str, bool | None]]:
    """Run each case once per round, in turn; returns times (ms), counts and hash paths."""
    times: dict[str, list[float]] = {name: [] for name in rounds}
    counts: dict[str, dict[str, int]] = {}
    native: dict[str, bool | None] = {}
    for i in range(WARMUP + ROUNDS):
        for name, run in rounds.items():
            result = run()
            counts[name] = result["counts"]
            native[name] = result.get("native")
            if i >= WARMUP:
                times[name].append(result["ms"])
    return times, counts, native


def print_table(
    times: dict[str, list[float]], native: dict[str, bool | None], case_of: dict[str, str]
) -> None:
    """Median time per assignment, assignments/s, and the speed relative to python: assign()."""
    base = statistics.median(times["python: assign()"])
    print(f"{'row':<36} {'case':>8} {'per op':>10} {'ops/s':>12} {'vs python':>10} {'hash':>12}")
    for name, ms in times.items():
        median = statistics.median(ms)
        per_op_ns = median * 1e6 / N
        hashing = {True: "node:crypto", False: "portable", None: "hashlib"}[native[name]]
        if name.startswith(("chromium", "node")) and "baseline" not in name:
            hashing = "portable"  # assignments hash with the portable SHA-256 everywhere
        print(
            f"{name:<36} {case_of[name]:>8} {per_op_ns:>7.0f} ns {N / (median / 1e3):>12,.0f} "
            f"{base / median:>9.2f}x {hashing:>12}"
        )


if __name__ == "__main__":
    main()
