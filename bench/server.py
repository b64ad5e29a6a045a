"""Load on the running server: POST /v1/assign and POST /v1/events, beside a bare FastAPI floor.

Three servers run as separate processes on loopback, each under uvicorn with the same
settings: `splitlab serve` (the real server: gateway, key check, msgspec, the assignment
service), and a bare FastAPI application whose POST endpoint returns a constant without
reading the body (the framework's floor). A bounded Python client (asyncio, raw HTTP/1.1
keep-alive connections, one request in flight per connection, pre-encoded requests) drives
each in alternating rounds so that background load on the machine hits both alike, and
records every request's latency. Events are counted from the collector's answers
(``accepted``, ``duplicates``, ``rejected``), and every event batch is valid and never sent
before, so accepted events per second is what the collector made durable.

    .venv-bench/bin/python bench/server.py --seconds 30 --connections 16

`--seconds` is the total load time per case (split over `--rounds` alternating rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
#: The article's experiment plus the demo's two others, all running: "all experiments"
#: assigns the unit in three.
DEFINITIONS = [
    ROOT / "examples" / "exp-checkout-flow-v3.json",
    ROOT / "src" / "splitlab" / "demo" / "exp-search-ranking-v2.json",
    ROOT / "src" / "splitlab" / "demo" / "exp-homepage-copy-aa.json",
]


def baseline_app() -> Any:
    """The floor: a FastAPI POST endpoint returning a constant, body unread."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/assign")
    async def constant() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def prepare(workdir: Path) -> tuple[Path, str]:
    """A database with three running experiments and an SDK key."""
    from splitlab.server.context import ServerContext
    from splitlab.store import DuckDBStore

    db = workdir / "bench.duckdb"
    store = DuckDBStore(db)
    try:
        ctx = ServerContext.open(store)
        headers_key = ctx.keys.create("admin", "bench").secret
        sdk = ctx.keys.create("sdk", "bench").secret
        from fastapi.testclient import TestClient

        from splitlab.server.app import create_app

        with TestClient(create_app(ctx)) as client:
            for path in DEFINITIONS:
                r = client.post(
                    "/v1/experiments",
                    content=path.read_bytes(),
                    headers={"Authorization": f"Bearer {headers_key}"},
                )
                r.raise_for_status()
    finally:
        store.close()
    return db, sdk


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server process and wait for /healthz."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(
        f"server {cmd} did not start: {process.stderr.read() if process.stderr else ''}"
    )


def request(path: str, body: bytes, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connection(port: int, requests: Requests, deadline: float, out: list[float],
                      statuses: dict[int, int], counts: dict[str, int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            payload = requests.next()
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            out.append(time.perf_counter() - started)
            if body.startswith(b'{"accepted"'):  # the collector's answer: count what it says
                answer = json.loads(body)
                for field in ("accepted", "duplicates", "rejected"):
                    counts[field] = counts.get(field, 0) + int(answer[field])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


class Requests:
    """Pre-encoded requests taken in turn by every connection of every round (one position
    shared by all of them, so the connections do not all send the same request)."""

    def __init__(self, requests: list[bytes]) -> None:
        self._requests = requests
        self._next = itertools.count()

    def next(self) -> bytes:
        return self._requests[next(self._next) % len(self._requests)]


class FreshBatches(Requests):
    """An endless supply of event batches with never-sent eventIds: the batch number is
    written into a pre-encoded template (so the client spends microseconds per request)."""

    def __init__(self, template: bytes, key: str) -> None:
        super().__init__([])
        self._template = template
        self._key = key

    def next(self) -> bytes:
        body = self._template.replace(b"@B@", str(next(self._next)).encode())
        return request("/v1/events", body, self._key)


def load(port: int, requests: Requests, seconds: float, connections: int) -> dict[str, Any]:
    """Drive one server for `seconds`; requests/s and latency percentiles (ms)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counts: dict[str, int] = {}

    async def run() -> float:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(port, requests, deadline, latencies, statuses, counts)
                for _ in range(connections)
            )
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "statuses": statuses,
        "counts": counts,
        "latencies": latencies,
    }


def summarise(rounds: list[dict[str, Any]]) -> dict[str, float]:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    total = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "rps": total / seconds,
        "rps_median_round": statistics.median(r["requests"] / r["seconds"] for r in rounds),
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "requests": total,
        "non_2xx": sum(n for r in rounds for s, n in r["statuses"].items() if not 200 <= s < 300),
    }


def events_requests(key: str, batch: int) -> FreshBatches:
    """Event batches with fresh eventIds for the events endpoint: one exposure (no value: the
    collector rejects an exposure that carries one) and three metric events per unit, all
    valid and never sent before, so every event should be accepted (not one a duplicate)."""
    now = int(time.time() * 1000)
    b = "@B@"
    events = [
            {"eventId": f"b{b}-e{i}", "type": "exposure" if i % 4 == 0 else "metric",
             "experimentId": "exp-checkout-flow-v3", "variant": "control",
             "unitId": f"u{b}-{i // 4}", "metric": None if i % 4 == 0 else "checkout_completion_rate",
             "value": None if i % 4 == 0 else 1.0, "timestamp": now}
            for i in range(batch)
    ]  # fmt: skip
    cleaned = [{k: v for k, v in e.items() if v is not None} for e in events]
    return FreshBatches(json.dumps(cleaned).encode(), key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load time per case (total)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per case")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100, help="events per /v1/events request")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        import uvicorn

        uvicorn.run(baseline_app(), host="127.0.0.1", port=args.serve_baseline,
                    log_level="warning", access_log=False, lifespan="off")  # fmt: skip
        return

    workdir = Path(tempfile.mkdtemp(prefix="splitlab-bench-server-"))
    db, sdk = prepare(workdir)
    from splitlab.server.run import free_port

    splitlab_port, baseline_port = free_port(), free_port()
    servers = [
        start([sys.executable, "-m", "splitlab", "serve", "--db", str(db), "--port",
               str(splitlab_port), "--log-level", "warning"], splitlab_port),
        start([sys.executable, __file__, "--serve-baseline", str(baseline_port)], baseline_port),
    ]  # fmt: skip
    attributes = [{"region": "US", "accountType": "free"}, {"region": "EU", "accountType": "pro"}]
    assign = [
        request("/v1/assign", json.dumps({"unitId": f"user-{i}", "experimentId":
                "exp-checkout-flow-v3", "attributes": attributes[i % 2]}).encode(), sdk)
        for i in range(5000)
    ]  # fmt: skip
    assign_all = [
        request("/v1/assign", json.dumps({"unitId": f"user-{i}",
                "attributes": attributes[i % 2]}).encode(), sdk)
        for i in range(5000)
    ]  # fmt: skip
    floor = [request("/v1/assign", json.dumps({"unitId": f"user-{i}"}).encode(), None)
             for i in range(5000)]  # fmt: skip
    events = events_requests(sdk, args.batch)
    cases: dict[str, tuple[int, Requests]] = {
        "bare FastAPI constant (floor)": (baseline_port, Requests(floor)),
        "splitlab POST /v1/assign (one experiment)": (splitlab_port, Requests(assign)),
        "splitlab POST /v1/assign (all 3 experiments)": (splitlab_port, Requests(assign_all)),
        f"splitlab POST /v1/events ({args.batch} events)": (splitlab_port, events),
    }
    per_round = args.seconds / args.rounds
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    try:
        for port, reqs in cases.values():
            load(port, reqs, 1.0, args.connections)  # warm-up
        for _ in range(args.rounds):
            for name, (port, reqs) in cases.items():
                results[name].append(load(port, reqs, per_round, args.connections))
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=20)
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {args.connections} connections, {args.rounds} alternating "
          f"rounds, {args.seconds:g} s per case")  # fmt: skip
    print(f"{'case':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs floor':>9}")
    floor_rps = summarise(results["bare FastAPI constant (floor)"])["rps"]
    for name, rounds in results.items():
        s = summarise(rounds)
        print(f"{name:<46} {s['rps']:>9,.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
              f"{s['non_2xx']:>8} {s['rps'] / floor_rps:>8.0%}")  # fmt: skip
    key = f"splitlab POST /v1/events ({args.batch} events)"
    rounds = results[key]
    seconds = sum(r["seconds"] for r in rounds)
    fields = ("accepted", "duplicates", "rejected")
    counted = {f: sum(r["counts"].get(f, 0) for r in rounds) for f in fields}
    sent = sum(r["requests"] for r in rounds) * args.batch
    # Counted from the collector's answers ("accepted", "rejected"), not requests x batch size.
    print(
        f"events sent {sent:,}: accepted {counted['accepted']:,}, duplicates "
        f"{counted['duplicates']:,}, rejected {counted['rejected']:,}"
    )
    print(f"events accepted per second: {counted['accepted'] / seconds:,.0f}; rejected per "
          f"second: {counted['rejected'] / seconds:,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
