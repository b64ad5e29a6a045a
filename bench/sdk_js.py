"""JS SDK speed in Chromium and in Node beside the Python service, on the same units.

Run: ``.venv-bench/bin/python bench/sdk_js.py`` (needs /usr/bin/chromium, Python Playwright, node).

One round = ``assign()`` for each of 100,000 distinct units (``user-0`` ...) on the article's
experiment (3 variants, its include/exclude targeting, allocation 1.0 so every unit is
targeted, hashed and split), each unit with its own attributes object. The runtimes take
turns, round by round, in one run:

* ``chromium: assign()`` - sdk/js as an ES module in headless Chromium (Debian's), served by
  a local http.server; the browser path, with the SDK's portable SHA-256.
* ``node: assign() (node:crypto)`` - sdk/js in Node, hashing with node:crypto.
* ``node: assign() (portable sha256)`` - the same, with ``process.getBuiltinModule`` hidden
  before import so the SDK takes the browser's hash path: the same code as Chromium on V8.
* ``python: assign()`` and ``python: assign_many()`` - splitlab's Python service.

Each JavaScript round is timed inside its runtime (``performance.now()``), so process and
page round trips are not counted; Python rounds with ``time.perf_counter()``. Every runtime
returns its count of units per variant, and the script checks they are all equal.
"""

from __future__ import annotations

import http.server
import json
import shutil
import statistics
import subprocess
import sys
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
function makeBench(sdk, definition, n) {
  const service = new sdk.ExperimentAssignmentService([definition]);
  const id = definition.experimentId;
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
    for (const a of out) counts[a.variant] = (counts[a.variant] ?? 0) + 1;
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
const [sdkPath, definitionJson, n, portable] = process.argv.slice(1);
if (portable === "portable") delete process.getBuiltinModule;
const sdk = await import(pathToFileURL(sdkPath).href);
const round = makeBench(sdk, JSON.parse(definitionJson), Number(n));
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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the checkout without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged."""


@contextmanager
def static_server() -> Iterator[str]:
    """An http.server on 127.0.0.1 (a free port) over the checkout; yields its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(ROOT))
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

    def __init__(self, node: str, raw: dict[str, Any], *, portable: bool) -> None:
        args = [str(ROOT / "sdk/js/src/index.js"), json.dumps(raw), str(N)]
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


def python_rounds(raw: dict[str, Any]) -> dict[str, Callable[[], dict[str, Any]]]:
    """The Python service's rounds: assign() per unit, and assign_many() over all units."""
    experiment = load_experiment(raw)
    eid = experiment.experiment_id
    service = ExperimentAssignmentService([experiment])
    units = [f"user-{i}" for i in range(N)]
    attrs = [{"region": "US", "accountType": "free", "plan": "pro", "id": u} for u in units]
    assert all(a.reason is Reason.ASSIGNED for a in service.assign_many(eid, units, attrs))

    def timed(run: Callable[[], list[Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        out = run()
        ms = (time.perf_counter() - start) * 1e3
        return {"ms": ms, "counts": dict(Counter(a.variant for a in out))}

    def single() -> dict[str, Any]:
        assign = service.assign
        return timed(lambda: [assign(u, eid, a) for u, a in zip(units, attrs, strict=True)])

    def batch() -> dict[str, Any]:
        return timed(lambda: service.assign_many(eid, units, attrs))

    return {"python: assign()": single, "python: assign_many()": batch}


def main() -> None:
    raw = definition()
    node = shutil.which("node")
    rounds: dict[str, Callable[[], dict[str, Any]]] = {}
    runners: list[NodeRunner] = []
    with static_server() as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{base}/sdk/js/package.json")
        version = browser.version
        page.evaluate(
            "async ([url, definition, n]) => {"
            + JS_BENCH
            + "const sdk = await import(url); window.benchRound = makeBench(sdk, definition, n); }",
            [f"{base}/sdk/js/src/index.js", raw, N],
        )
        rounds["chromium: assign()"] = lambda: page.evaluate("() => window.benchRound()")
        if node is not None:
            for portable in (False, True):
                runner = NodeRunner(node, raw, portable=portable)
                runners.append(runner)
                name = (
                    "node: assign() (portable sha256)"
                    if portable
                    else "node: assign() (node:crypto)"
                )
                rounds[name] = runner.round
        else:
            print("node is not installed: the Node rows are skipped")
        rounds.update(python_rounds(raw))
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
    print_table(times, native)
    agreed = len({json.dumps(c, sort_keys=True) for c in counts.values()}) == 1
    first = next(iter(counts.values()))
    print(f"variant counts {dict(sorted(first.items()))}: all runtimes agree: {agreed}")
    if not agreed:
        raise SystemExit(f"runtimes disagree: {counts}")


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


def print_table(times: dict[str, list[float]], native: dict[str, bool | None]) -> None:
    """Median time per assignment, assignments/s, and the speed relative to python: assign()."""
    base = statistics.median(times["python: assign()"])
    print(f"{'case':<36} {'per op':>10} {'ops/s':>12} {'speed vs python':>20} {'hash':>12}")
    for name, ms in times.items():
        median = statistics.median(ms)
        per_op_ns = median * 1e6 / N
        hashing = {True: "node:crypto", False: "portable", None: "hashlib"}[native[name]]
        print(
            f"{name:<36} {per_op_ns:>7.0f} ns {N / (median / 1e3):>12,.0f} "
            f"{base / median:>18.2f}x {hashing:>12}"
        )


if __name__ == "__main__":
    main()
