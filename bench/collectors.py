"""Collectors side by side: several processes, one process, and the floor, closed and open loop.

Cases, each started fresh per round as its own processes on loopback, in alternating rounds so
that other work on the machine hits them alike:

* ``floor``: a bare raw-ASGI endpoint under the same uvicorn that appends each request body to
  the same group-committed, fsync'd log (:class:`~splitlab.store.log.AppendLog`) and answers
  only then: no validation, no deduplication, no loading. One process per worker, as below.
* ``multi``: ``python -m splitlab.server.logcollector --workers N`` (N processes sharing the
  port with ``SO_REUSEPORT``, each with its own log) plus ``python -m splitlab.store.merge``
  loading every log into DuckDB meanwhile.
* ``multi-noload``: the same collectors without a loader running meanwhile (as when the
  loader runs on another host, or catches up after a peak): what the collectors alone
  acknowledge on these cores. Nothing is lost: the logs wait for the loader.
* ``single``: ``python -m splitlab.server.collector`` (one process; its loader thread loads
  DuckDB in the same process).
* ``single-oldgc`` (``--before``): the same with CPython's default garbage-collector settings,
  as before :mod:`splitlab.server.gctune`.

Load: closed loop with ``wrk`` (Debian package; 16 connections, 100 events per request, every
eventId unique: a Lua script writes a fresh batch number into a template per request and
counts ``accepted`` from the answers), then open loop: a Python client (its own process,
asyncio, raw HTTP/1.1 keep-alive connections) sends at a fixed rate and measures each
request's latency from its *intended* send time, so queueing shows. Printed per case: events
acknowledged as durable per second (from the answers), p50/p99 per request, and the load
average at the start of the case.

    .venv/bin/python bench/collectors.py --seconds 10 --rounds 3 --workers 2 --rate 50000 --before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100

LUA = r"""
local threads = {}
local counter = 0
local template = nil
accepted = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = io.open(args[1], "r")
  template = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = template:gsub("@B@", "w" .. tid .. "x" .. counter)
  return wrk.format(nil, "/v1/events", nil, body)
end

function response(status, headers, body)
  local n = body:match('"accepted":(%d+)')
  if n then accepted = accepted + tonumber(n) end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("accepted") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"seconds":%.3f,"accepted":%d,"errors":%d,"p50":%.3f,"p99":%.3f}\n',
    summary.requests, summary.duration / 1e6, total,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def template(run: str) -> str:
    """100 valid events (1 exposure in 4), with ``@B@`` where the batch number goes."""
    now = int(time.time() * 1000)
    events = []
    for i in range(BATCH):
        event: dict[str, Any] = {"eventId": f"{run}-@B@-{i}", "experimentId": "exp-a",
                                 "variant": "control", "unitId": f"u@B@-{i // 4}",
                                 "timestamp": now}  # fmt: skip
        if i % 4 == 0:
            event["type"] = "exposure"
        else:
            event.update(type="metric", metric="m", value=1.0)
        events.append(event)
    return json.dumps(events, separators=(",", ":"))


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---------------------------------------------------------------------------- the floor


def floor_worker(log_dir: str, port: int) -> None:
    """One floor process: raw ASGI, body appended to the fsync'd log, then the answer."""
    import uvicorn

    from splitlab.server.gctune import quiet_gc
    from splitlab.server.logcollector import listening_socket
    from splitlab.store.log import AppendLog

    log = AppendLog(log_dir)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            log.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if scope["path"] == "/healthz":
            answer = b'{"status":"ok"}'
        else:
            await asyncio.wrap_future(log.submit(body))
            answer = b'{"accepted":%d}' % body.count(b'"eventId"')
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(answer)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    sock = listening_socket("127.0.0.1", port, reuse_port=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    quiet_gc()
    server.run(sockets=[sock])


# ---------------------------------------------------------------------------- open loop


async def _open_loop(port: int, rate: float, seconds: float, connections: int, run: str
                     ) -> dict[str, Any]:  # fmt: skip
    body_template = template(run).encode()
    head = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n")  # fmt: skip
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    counts = {"accepted": 0, "errors": 0}
    number = re.compile(rb'"accepted":(\d+)')

    async def one(k: int, intended: float) -> None:
        reader, writer = await idle.get()
        body = body_template.replace(b"@B@", b"o%d" % k)
        writer.write(head % len(body) + body)
        status_line = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", status_line).group(1))  # type: ignore[union-attr]
        answer = await reader.readexactly(length)
        latencies.append(loop.time() - intended)
        found = number.search(answer)
        if found and status_line[9:12] == b"200":
            counts["accepted"] += int(found.group(1))
        else:
            counts["errors"] += 1
        idle.put_nowait((reader, writer))

    total = int(rate * seconds)
    start = loop.time() + 0.05
    tasks = []
    k = 0
    while k < total:
        now = loop.time()
        while k < total and start + k / rate <= now:
            tasks.append(asyncio.create_task(one(k, start + k / rate)))
            k += 1
        await asyncio.sleep(0.0005)
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    latencies.sort()
    return {"requests": len(latencies), "seconds": elapsed, "accepted": counts["accepted"],
            "errors": counts["errors"], "p50": 1000 * latencies[len(latencies) // 2],
            "p99": 1000 * latencies[int(len(latencies) * 0.99)]}  # fmt: skip


def open_loop(port: int, rate_events: float, seconds: float, run: str) -> dict[str, Any]:
    """Run the open-loop client in its own process; its JSON result."""
    command = [sys.executable, __file__, "--open-loop-client", str(port), str(rate_events),
               str(seconds), run]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def closed_loop(port: int, seconds: float, connections: int, run: str, lua: Path
                ) -> dict[str, Any]:  # fmt: skip
    body = lua.with_name(f"{run}.json")
    body.write_text(template(run))
    command = ["wrk", "-t2", f"-c{connections}", f"-d{round(seconds)}s", "-s", str(lua),
               f"http://127.0.0.1:{port}", "--", str(body)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr[-2000:]}")
    out = done.stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line[len("WRKJSON ") :])
    return result


# ---------------------------------------------------------------------------- cases


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(port: int, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if any(p.poll() is not None for p in processes):
            break
        time.sleep(0.1)
    raise RuntimeError("a server did not start")


def start_case(case: str, workdir: Path, port: int, workers: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    py = sys.executable

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([py, *args], env=env, stdout=subprocess.DEVNULL)

    if case == "floor":
        procs = [spawn(__file__, "--floor-worker", str(workdir / f"floor-{i}"), str(port))
                 for i in range(workers)]  # fmt: skip
    elif case in ("multi", "multi-noload"):
        procs = [spawn("-m", "splitlab.server.logcollector", "--logs", str(workdir / "logs"),
                       "--workers", str(workers), "--port", str(port))]  # fmt: skip
        if case == "multi":
            procs.append(spawn("-m", "splitlab.store.merge", "--db", str(workdir / "multi.duckdb"),
                               "--logs", str(workdir / "logs")))  # fmt: skip
    elif case == "single":
        procs = [spawn("-m", "splitlab.server.collector", "--db", str(workdir / "single.duckdb"),
                       "--port", str(port))]  # fmt: skip
    else:  # single-oldgc: the same, CPython's default collector settings
        code = ("import sys, splitlab.server.gctune as g; g.quiet_gc = lambda: None; "
                "from splitlab.server.collector import main; main(sys.argv[1:])")  # fmt: skip
        procs = [spawn("-c", code, "--db", str(workdir / "oldgc.duckdb"), "--port", str(port))]
    wait_healthy(port, procs)
    return procs


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()


def summarise(results: list[dict[str, Any]]) -> dict[str, float]:
    seconds = sum(r["seconds"] for r in results)
    return {
        "events_s": sum(r["accepted"] for r in results) / seconds,
        "p50": statistics.median(r["p50"] for r in results),
        "p99": max(r["p99"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-worker":
        floor_worker(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--open-loop-client":
        port, rate, seconds, run = sys.argv[2:6]
        result = asyncio.run(_open_loop(int(port), float(rate) / BATCH, float(seconds), 64, run))
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per case, round and loop")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--rate", type=float, default=50_000, help="open loop: events/s")
    parser.add_argument("--before", action="store_true", help="add single-oldgc")
    parser.add_argument("--only", nargs="*", help="run only these cases")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian package wrk)")
    cases = ["floor", "multi", "multi-noload", "single"]
    cases += ["single-oldgc"] if args.before else []
    if args.only:
        cases = [c for c in cases if c in args.only]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        c: {"closed": [], "open": [], "load": []} for c in cases
    }
    with tempfile.TemporaryDirectory(prefix="splitlab-collectors-") as tmp:
        lua = Path(tmp) / "events.lua"
        lua.write_text(LUA)
        for round_number in range(args.rounds):
            for case in cases:
                workdir = Path(tmp) / f"{case}-{round_number}"
                workdir.mkdir()
                port = free_port()
                processes = start_case(case, workdir, port, args.workers)
                try:
                    results[case]["load"].append({"load": load_average()})
                    run = f"{case}{round_number}{int(time.time())}"
                    results[case]["closed"].append(
                        closed_loop(port, args.seconds, args.connections, run + "c", lua)
                    )
                    results[case]["open"].append(
                        open_loop(port, args.rate, args.seconds, run + "o")
                    )
                finally:
                    stop(processes)
                print(f"round {round_number + 1} {case}: done (load {load_average():.1f})",
                      file=sys.stderr)  # fmt: skip
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.workers} workers; "
          f"{args.rounds} rounds x {args.seconds:g} s per loop; {BATCH} events per request")  # fmt: skip
    print(f"closed loop: wrk -t2 -c{args.connections}; open loop: {args.rate:,.0f} events/s "
          f"offered ({args.rate / BATCH:,.0f} requests/s over 64 connections)")  # fmt: skip
    header = f"{'case':<34}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs floor':>10}"
    for loop in ("closed", "open"):
        print(f"\n{loop} loop")
        print(header + f"{'load avg':>10}")
        floor = summarise(results["floor"][loop])["events_s"]
        for case in cases:
            s = summarise(results[case][loop])
            loads = ", ".join(f"{x['load']:.1f}" for x in results[case]["load"])
            print(f"{case:<34}{s['events_s']:>10,.0f}{s['p50']:>9.1f}{s['p99']:>9.1f}"
                  f"{s['errors']:>8.0f}{s['events_s'] / floor:>9.0%}  {loads}")  # fmt: skip
    print("\nper round (events/s, p99 ms), closed | open")
    for case in cases:
        rows = [f"{c['accepted'] / c['seconds']:,.0f} {c['p99']:.0f} | "
                f"{o['accepted'] / o['seconds']:,.0f} {o['p99']:.0f}"
                for c, o in zip(results[case]["closed"], results[case]["open"], strict=True)]  # fmt: skip
        print(f"{case:<34}" + ";  ".join(rows))
    if "single" in results:
        single = summarise(results["single"]["closed"])["events_s"]
        for case in ("multi", "multi-noload"):
            if case in results:
                multi = summarise(results[case]["closed"])["events_s"]
                print(f"\n{case} / single (closed loop): {multi / single:.2f}x", end="")
        print()


if __name__ == "__main__":
    main()
