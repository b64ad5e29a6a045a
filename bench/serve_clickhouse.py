"""POST /v1/events on `splitlab serve` with the events in its DuckDB file against `--clickhouse`.

Two `splitlab serve` processes on loopback with the same running experiments and keys: one
keeps its events in its `--db` file (the default), the other in a ClickHouse server (Debian's
clickhouse-server, a throw-away one started here). Both acknowledge a batch once it is in
their local fsync'd log; what differs is the background load (DuckDB in the process, or HTTP
inserts to ClickHouse) and the reads. The load client of bench/server.py (fresh batches,
counted from the collector's answers) drives them in alternating rounds. After the load:
how long until every acknowledged event is loaded (ClickHouse: /healthz says ``loaded``),
how long `GET /v1/experiments/{id}/summary` takes on each, and whether each summary counts
every accepted unit.

    .venv/bin/python bench/serve_clickhouse.py --seconds 20 --connections 16
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from registry import prepare  # noqa: E402
from server import events_requests, load, start, summarise  # noqa: E402
from splitlab.store.clickhouse import LocalServer  # noqa: E402
from tests.collector.collector_helpers import free_port  # noqa: E402

EXPERIMENT = "exp-checkout-flow-v3"


def until_loaded(port: int, timeout: float = 300.0) -> float:
    """Seconds until /healthz reports every acknowledged event loaded into ClickHouse."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        if health.get("clickhouse", {}).get("loaded", True):
            return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError("the events were not loaded into ClickHouse in time")


def summaries(port: int, admin: str, times: int = 5) -> tuple[float, int]:
    """The median seconds of `times` summaries, and the units the last one counted."""
    took: list[float] = []
    units = 0
    for _ in range(times):
        started = time.perf_counter()
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/experiments/{EXPERIMENT}/summary",
                           headers={"Authorization": f"Bearer {admin}"}, timeout=300)  # fmt: skip
        took.append(time.perf_counter() - started)
        answer.raise_for_status()
        units = sum(answer.json()["units"].values())
    return statistics.median(took), units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per case")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100, help="events per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-serve-ch-") as tmp:
        house = LocalServer(Path(tmp) / "clickhouse")
        house.start()
        cases: dict[str, dict[str, Any]] = {}
        try:
            for name in ("duckdb", "clickhouse"):
                db = Path(tmp) / f"{name}.duckdb"
                admin, sdk = prepare(db)
                port = free_port()
                command = [sys.executable, "-m", "splitlab", "serve", "--db", str(db), "--port",
                           str(port), "--log-level", "warning", "--no-scheduler"]  # fmt: skip
                if name == "clickhouse":
                    command += ["--clickhouse", house.url, "--clickhouse-database", "bench"]
                cases[name] = {"port": port, "admin": admin, "rounds": [],
                               "requests": events_requests(sdk, args.batch),
                               "process": start(command, port)}  # fmt: skip
            for case in cases.values():
                case["warm-up"] = load(case["port"], case["requests"], 1.0, args.connections)
            for _ in range(args.rounds):
                for case in cases.values():
                    case["rounds"].append(load(case["port"], case["requests"],
                                               args.seconds / args.rounds, args.connections))  # fmt: skip
            for name, case in cases.items():
                case["lag"] = until_loaded(case["port"]) if name == "clickhouse" else 0.0
                case["summary_s"], case["units"] = summaries(case["port"], case["admin"])
        finally:
            for case in cases.values():
                case["process"].terminate()
                case["process"].wait(timeout=120)
            house.stop()
    print(f"POST /v1/events ({args.batch} events, fresh), {args.connections} connections, "
          f"{args.seconds:g} s per case in {args.rounds} alternating rounds; Python "
          f"{platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'events in':<11} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'accepted':>10} {'loaded after':>13} {'summary ms':>11} {'units':>9}")  # fmt: skip
    for name, case in cases.items():
        s = summarise(case["rounds"])
        seconds = sum(r["seconds"] for r in case["rounds"])
        accepted = sum(r["counts"].get("accepted", 0) for r in case["rounds"])
        # One exposure and three metric events per unit: is every accepted unit counted
        # (the warm-up's too)?
        expected = (accepted + case["warm-up"]["counts"].get("accepted", 0)) // 4
        check = "all counted" if case["units"] == expected else f"expected {expected:,}"
        print(f"{name:<11} {accepted / seconds:>9,.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
              f"{s['non_2xx']:>8.0f} {accepted:>10,} {case['lag']:>12.2f}s "
              f"{case['summary_s'] * 1e3:>11.0f} {case['units']:>9,} {check}")  # fmt: skip


if __name__ == "__main__":
    main()
