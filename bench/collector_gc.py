"""The collector's garbage-collector pauses under wrk: CPython's defaults against gctune.

The single collector (``python -m splitlab.server.collector``) runs under ``wrk`` (16
connections, 100 fresh events per request, the Lua script of bench/collectors.py) with a
``gc.callbacks`` hook timing every collection (wall and CPU time of the thread). Two settings,
alternating: ``default`` (CPython's thresholds, nothing frozen: as before) and ``gctune``
(:func:`splitlab.server.gctune.quiet_gc`: the start-up heap frozen, young collections every
10,000 allocations). Printed per run: events/s, p50/p99 per request, the number of full
(generation 2) collections during the run, their largest CPU and wall times, and the total
wall time spent in the collector; and the load average.

    .venv/bin/python bench/collector_gc.py --seconds 12 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collectors import LUA, closed_loop, free_port, load_average, wait_healthy

ROOT = Path(__file__).resolve().parent.parent

#: Runs the collector with a hook timing every collection; SIGUSR1 writes them to $OUT.
HOOKED = """
import gc, json, os, signal, sys, time
pauses, start = [], [0.0, 0.0]
def hook(phase, info):
    if phase == "start":
        start[:] = [time.perf_counter(), time.thread_time()]
    else:
        pauses.append((time.perf_counter() - start[0], time.thread_time() - start[1],
                       info["generation"], time.monotonic()))
gc.callbacks.append(hook)
def dump(signum, frame):
    with open(os.environ["OUT"], "w") as out:
        json.dump(pauses, out)
    os._exit(0)
signal.signal(signal.SIGUSR1, dump)
import splitlab.server.gctune as tune
if os.environ["SETTING"] == "default":
    tune.quiet_gc = lambda: None
from splitlab.server.collector import main
main(sys.argv[1:])
"""


def run(setting: str, workdir: Path, seconds: float, lua: Path) -> str:
    port = free_port()
    out = workdir / f"{setting}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OUT": str(out), "SETTING": setting}
    command = [sys.executable, "-c", HOOKED, "--db", str(workdir / f"{setting}.duckdb"),
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_healthy(port, [process])
        time.sleep(1)
        load = load_average()
        begun = time.monotonic()
        result = closed_loop(port, seconds, 16, f"{setting}{time.time_ns()}", lua)
        ended = time.monotonic()
        pauses = [p for p in _pauses(process, out) if begun <= p[3] <= ended]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    full = [p for p in pauses if p[2] == 2]
    return (f"{setting:<9}{result['accepted'] / result['seconds']:>10,.0f}{result['p50']:>8.1f}"
            f"{result['p99']:>8.1f}{len(full):>6}"
            f"{max((p[1] for p in full), default=0) * 1e3:>10.0f}"
            f"{max((p[0] for p in full), default=0) * 1e3:>10.0f}"
            f"{sum(p[0] for p in pauses) * 1e3:>10.0f}{load:>7.1f}")  # fmt: skip


def _pauses(process: subprocess.Popen[bytes], out: Path) -> list[list[float]]:
    """Every collection of the process: (wall s, CPU s, generation, end on the monotonic
    clock); asking ends the process."""
    process.send_signal(signal.SIGUSR1)
    process.wait(timeout=60)
    pauses: list[list[float]] = json.loads(out.read_text())
    return pauses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; wrk -t2 -c16, {args.seconds:g} s per run, 100 events/request")
    print(f"{'setting':<9}{'events/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'full':>6}"
          f"{'full CPU':>10}{'full wall':>10}{'GC wall':>10}{'load':>7}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="splitlab-gc-") as tmp:
        lua = Path(tmp) / "events.lua"
        lua.write_text(LUA)
        for _ in range(args.rounds):
            for setting in ("default", "gctune"):
                print(run(setting, Path(tmp), args.seconds, lua), flush=True)
    print("full: full (generation 2) collections during the run; CPU, wall: the largest, ms;")
    print("GC wall: total wall time in all collections during the run, ms")


if __name__ == "__main__":
    main()
