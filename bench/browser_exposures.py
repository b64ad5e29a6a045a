"""Ingest of exposures with and without the browser recompute, side by side in one run.

One `splitlab serve` process on loopback and the same client as bench/server.py (raw
HTTP/1.1 keep-alive connections, one request in flight each), in alternating rounds:

- server-to-server: batches of exposures with a header key and no ``Origin``: stored as sent
  (the path every backend uses; the recompute must cost it nothing);
- browser: the same batches (fresh event ids) with ``Origin``: every exposure is assigned
  again by the server before it is stored (claims that match, claims of the other variant,
  and units the server does not assign, which are refused).

The events are exposures of the demo's A/A experiment (`exp-homepage-copy-aa`: 50% traffic,
two variants), so about half of the units are assigned and half are refused on the browser
path; the claims are the server's own variant for 90% of the assigned units, the other one
for 10%. Then, in-process: the review step alone per batch for a server-to-server scope
(the header scan that lets the batch through) and for a browser one.

    .venv/bin/python bench/browser_exposures.py --seconds 12 --connections 8 --batch 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from server import load, prepare, start, summarise  # bench/server.py

EXPERIMENT = "exp-homepage-copy-aa"
ORIGIN = "https://app.example.com"


def raw(path: str, body: bytes, key: str, origin: str | None) -> bytes:
    extra = f"Origin: {origin}\r\n" if origin else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def batches(prefix: str, batch: int, count: int) -> list[list[dict[str, Any]]]:
    """Exposure batches whose claims are mostly the server's variant (see the docstring)."""
    from splitlab.assignment import ExperimentAssignmentService
    from splitlab.config import load_experiment

    root = Path(__file__).resolve().parent.parent
    experiment = load_experiment(root / "src" / "splitlab" / "demo" / f"{EXPERIMENT}.json")
    service = ExperimentAssignmentService([experiment])
    now = int(time.time() * 1000)
    out = []
    for b in range(count):
        events = []
        for i in range(batch):
            unit = f"{prefix}-u{b}-{i}"
            served = service.assign(unit, EXPERIMENT).variant or "control"
            claim = served if i % 10 else ("control-copy" if served == "control" else "control")
            events.append({"eventId": f"{prefix}-b{b}-e{i}", "type": "exposure",
                           "experimentId": EXPERIMENT, "variant": claim, "unitId": unit,
                           "timestamp": now})  # fmt: skip
        out.append(events)
    return out


def review_cost(db: Path, groups: list[list[dict[str, Any]]]) -> dict[str, float]:
    """Microseconds per batch of the review step alone, for each kind of scope."""
    import msgspec

    from splitlab.server.context import ServerContext
    from splitlab.server.exposures import BrowserExposures
    from splitlab.store import DuckDBStore
    from splitlab.tracking.events import validate_batch

    store = DuckDBStore(db)
    try:
        ctx = ServerContext.open(store)
        review = BrowserExposures(ctx)
        decoded = [validate_batch(msgspec.json.encode(g), ctx.known()) for g in groups]
        scopes = {
            "server-to-server (no Origin)": {"headers": [(b"authorization", b"Bearer x")]},
            "browser (Origin)": {"headers": [(b"origin", ORIGIN.encode())]},
        }
        out = {}
        for name, scope in scopes.items():
            started = time.perf_counter()
            for events, rejections in decoded:
                review(scope, events, rejections)
            out[name] = (time.perf_counter() - started) / len(decoded) * 1e6
        return out
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="load time per case")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50, help="exposures per request")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="splitlab-bench-browser-"))
    db, sdk = prepare(workdir)
    from splitlab.server.run import free_port

    port = free_port()
    count = 4000
    s2s = [raw("/v1/events", json.dumps(g).encode(), sdk, None)
           for g in batches("s", args.batch, count)]  # fmt: skip
    browser = [raw("/v1/events", json.dumps(g).encode(), sdk, ORIGIN)
               for g in batches("w", args.batch, count)]  # fmt: skip
    server = start([sys.executable, "-m", "splitlab", "serve", "--db", str(db), "--port",
                    str(port), "--log-level", "warning", "--no-scheduler",
                    "--cors-origin", ORIGIN], port)  # fmt: skip
    cases = {"server-to-server (no Origin)": s2s, "browser (Origin: recomputed)": browser}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    per_round = args.seconds / args.rounds
    try:
        for reqs in cases.values():
            load(port, reqs[-50:], 0.5, args.connections)  # warm-up (ids reused later: dupes)
        for _ in range(args.rounds):
            for name, reqs in cases.items():
                results[name].append(load(port, reqs[:-50], per_round, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    micro = review_cost(db, batches("m", args.batch, 200))
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {args.connections} connections, {args.rounds} alternating "
          f"rounds, {args.seconds:g} s per case, {args.batch} exposures per request")  # fmt: skip
    print(f"{'case':<32} {'req/s':>8} {'exposures/s':>12} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-2xx':>8} {'vs s2s':>7}")  # fmt: skip
    base = summarise(results["server-to-server (no Origin)"])["rps"]
    for name, rounds in results.items():
        s = summarise(rounds)
        print(f"{name:<32} {s['rps']:>8,.0f} {s['rps'] * args.batch:>12,.0f} "
              f"{s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['non_2xx']:>8} "
              f"{s['rps'] / base:>6.0%}")  # fmt: skip
    print(f"review step alone, per batch of {args.batch}:")
    for name, us in micro.items():
        print(f"  {name:<30} {us:>10.1f} us")


if __name__ == "__main__":
    main()
