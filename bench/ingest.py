"""Ingestion and summary speed: the collector against DuckDB's own floor, in one run.

Part 1, ingestion: the collector (``python -m splitlab.server.collector``) runs in its own
process; 16 clients on loopback (keep-alive HTTP/1.1 connections, spread over two client
processes) send batches of 100 events for ``--duration`` seconds, retrying a batch after a 503
as a real client would. Reported: events acknowledged as durable per second, batch latency
percentiles, and the collector's peak RSS. Beside it, the same events bulk-inserted straight
into DuckDB (no HTTP, no log: the storage floor), and one DuckDB transaction per 100-event
batch (what acknowledging from DuckDB itself would cost).

Part 2, summary: 1,000,000 units in 3 variants and 10,000,000 metric events over 5 metrics
generated with SQL into a store's DuckDB file, then ``DuckDBStore.summary`` (conversion,
continuous sum with CUPED, count, max, ratio), against the bare join of the events to the
units' first exposures; then what deduplicating a load batch by eventId costs with the 24 h
window, over all stored events, and in the summary (docs/storage.md).

    .venv-bench/bin/python bench/ingest.py [--duration 30] [--clients 16] [--skip-summary]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EXPERIMENT = "bench-exp"
VARIANTS = ("control", "a", "b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def batch_template(client: int, size: int) -> bytes:
    """A body of `size` events with placeholders for the batch number and the clock.

    Event ids and unit ids hold ``#########`` (the batch number); timestamps start with ``@@@@@@@@@@``
    (replaced by the send time in epoch seconds), so they advance as in real traffic.
    """
    now = 1_111_111_111_111
    events = []
    for i in range(size):
        # 4 events per unit and batch, new units in every batch (the batch number is in the
        # id): the loader numbers about a quarter of a million new units per 1M events
        unit = f"u{client}-#########-{i % max(1, size // 4)}"
        if i % 4 == 0:
            events.append({"eventId": f"c{client}-#########-{i}", "type": "exposure",
                           "experimentId": EXPERIMENT, "variant": VARIANTS[i % 3],
                           "unitId": unit, "timestamp": now})  # fmt: skip
        else:
            events.append({"eventId": f"c{client}-#########-{i}", "type": "metric",
                           "experimentId": EXPERIMENT, "variant": VARIANTS[i % 3],
                           "unitId": unit, "metric": f"m{i % 5}", "value": i * 0.5,
                           "timestamp": now + i})  # fmt: skip
    return json.dumps(events).encode().replace(b"1111111111", b"@@@@@@@@@@")


async def _connection(
    port: int, client: int, size: int, deadline: float, out: dict[str, Any]
) -> None:
    template = batch_template(client, size)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    batch = 0
    while time.perf_counter() < deadline:
        clock = b"%010d" % (time.time_ns() // 1_000_000_000)
        body = template.replace(b"#########", b"%09d" % batch).replace(b"@@@@@@@@@@", clock)
        head = (
            f"POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        start = time.perf_counter()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        retry_after = 1.0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "retry-after":
                retry_after = float(value)
        answer = await reader.readexactly(length)
        status = int(status_line.split()[1])
        if status == 200:
            out["latencies"].append(time.perf_counter() - start)
            out["accepted"] += json.loads(answer)["accepted"]
            batch += 1
        elif status == 503:
            out["retries"] += 1
            await asyncio.sleep(retry_after)
        else:
            raise RuntimeError(f"unexpected answer {status}: {answer[:200]!r}")
    writer.close()


def _client_process(port: int, clients: list[int], size: int, deadline: float, queue: Any) -> None:
    out: dict[str, Any] = {"latencies": [], "accepted": 0, "retries": 0}

    async def run() -> None:
        await asyncio.gather(*(_connection(port, c, size, deadline, out) for c in clients))

    asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    queue.put(out)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_ingest(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    port = free_port()
    db = workdir / "ingest.duckdb"
    command = [sys.executable, "-m", "splitlab.server.collector", "--db", str(db),
               "--port", str(port), "--load-interval", str(args.load_interval)]  # fmt: skip
    if args.duckdb_threads:
        command += ["--duckdb-threads", str(args.duckdb_threads)]
    server = subprocess.Popen(command)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                time.sleep(0.05)
        cpu_before = cpu_seconds(server.pid)
        queue: Any = multiprocessing.Queue()
        procs = 2
        clients = list(range(args.clients))
        start = time.perf_counter()
        deadline = start + args.duration
        workers = [
            multiprocessing.Process(
                target=_client_process,
                args=(port, clients[p::procs], args.batch, deadline, queue),
            )
            for p in range(procs)
        ]
        for w in workers:
            w.start()
        results = [queue.get() for _ in workers]
        elapsed = time.perf_counter() - start
        for w in workers:
            w.join()
        rss = peak_rss_mb(server.pid)
        server_cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    latencies = sorted(x for r in results for x in r["latencies"])
    accepted = sum(r["accepted"] for r in results)
    import duckdb

    con = duckdb.connect(str(db))
    stored = con.execute(
        "SELECT (SELECT count(*) FROM exposures) + (SELECT count(*) FROM metric_events)"
    ).fetchone()
    con.close()
    return {
        "accepted": accepted,
        "stored": stored[0] if stored else 0,
        "seconds": elapsed,
        "events_per_s": accepted / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "retries": sum(r["retries"] for r in results),
        "peak_rss_mb": rss,
        "collector_cpu_s": server_cpu,
        "client_cpu_s": sum(r["cpu_s"] for r in results),
    }


def bench_floor(total: int, batch: int, workdir: Path) -> dict[str, float]:
    """The same events straight into DuckDB: one bulk load, and one transaction per batch."""
    import duckdb

    path = workdir / "floor.ndjson"
    batches = total // batch
    with path.open("wb") as handle:
        template = batch_template(0, batch)
        for n in range(batches):
            clock = b"%010d" % (time.time_ns() // 1_000_000_000)
            filled = template.replace(b"#########", b"%09d" % n).replace(b"@@@@@@@@@@", clock)
            for event in json.loads(filled):
                handle.write(json.dumps(event).encode() + b"\n")
    con = duckdb.connect(str(workdir / "floor.duckdb"))
    con.execute(
        "CREATE TABLE events (eventId VARCHAR, type VARCHAR, experimentId VARCHAR, "
        "variant VARCHAR, unitId VARCHAR, metric VARCHAR, value DOUBLE, timestamp BIGINT)"
    )
    start = time.perf_counter()
    con.execute(
        "INSERT INTO events SELECT eventId, type, experimentId, variant, unitId, metric, value, "
        "timestamp FROM read_json(?, format = 'newline_delimited')",
        [str(path)],
    )
    bulk = time.perf_counter() - start
    columns = ("eventId", "type", "experimentId", "variant", "unitId", "metric", "value",
               "timestamp")  # fmt: skip
    clock = b"%010d" % (time.time_ns() // 1_000_000_000)
    one = json.loads(batch_template(1, batch).replace(b"@@@@@@@@@@", clock))
    rows = [tuple(e.get(k) for k in columns) for e in one]
    per_batch_n = 100
    start = time.perf_counter()
    for _ in range(per_batch_n):
        con.execute("BEGIN TRANSACTION")
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    per_batch = time.perf_counter() - start
    con.close()
    return {
        "bulk_events_per_s": batches * batch / bulk,
        "per_batch_events_per_s": per_batch_n * batch / per_batch,
    }


SUMMARY_EXPERIMENT: dict[str, Any] = {
    "experimentId": EXPERIMENT,
    "status": "running",
    "variants": list(VARIANTS),
    "assignment": {"salt": "bench"},
    "metrics": {
        "primary": {"name": "m0", "type": "conversion"},
        "secondary": [
            {"name": "m1", "type": "continuous", "aggregation": "sum", "cuped": True},
            {"name": "m2", "type": "continuous", "aggregation": "count"},
            {"name": "m3", "type": "continuous", "aggregation": "max", "windowHours": 72},
            {"name": "rev_per_order", "type": "ratio", "numerator": "m1", "denominator": "m4"},
        ],
    },
}


DEDUP_BATCH = 100_000


def bench_dedup(con: Any) -> dict[str, list[tuple[float, float]]]:
    """What exact deduplication by eventId over all time would cost, beside the 24 h window.

    A load batch of new events (ids interleaved with the stored ones, timestamps within one
    second, as a live batch has) is anti-joined against the stored events in the batch's
    range +-24 h (what the loader does) and against all of them; and the summary-side
    alternative, one row per stored eventId, is timed as a plain distinct count.
    """
    from splitlab.store.loader import BATCH_KEYS

    con.execute(
        "CREATE OR REPLACE TEMP TABLE dedup_batch AS SELECT event_id || 'z' AS eventId, "
        "1700000000000 + 3 * 86400000 + i % 1000 AS ts FROM "
        "(SELECT event_id, row_number() OVER () AS i FROM metric_events "
        f"USING SAMPLE {DEDUP_BATCH} ROWS (reservoir, 7))"
    )
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM dedup_batch").fetchone()
    window = 86_400_000
    queries = {
        "dedup_window": (
            "SELECT count(*) FROM dedup_batch b ANTI JOIN (SELECT event_id FROM metric_events "
            "WHERE ts BETWEEN $lo AND $hi) e ON b.eventId = e.event_id",
            {"lo": lo - window, "hi": hi + window},
        ),
        "dedup_all": (
            "SELECT count(*) FROM dedup_batch b ANTI JOIN metric_events e "
            "ON b.eventId = e.event_id",
            {},
        ),
        "dedup_summary": (
            "SELECT count(*) FROM (SELECT event_id FROM metric_events GROUP BY event_id)",
            {},
        ),
    }
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in queries}
    for _ in range(3):
        for name, (sql, params) in queries.items():
            wall, cpu = time.perf_counter(), time.process_time()
            con.execute(sql, params).fetchall()
            out[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    con.execute("DROP TABLE dedup_batch")
    # numbering a load batch's units (what each load adds for unit keys): 100,000 events of
    # 25,000 units, half of them stored already, against the stored unit_keys
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _splitlab_batch AS SELECT CASE WHEN u % 2 = 0 "
        "THEN 'u' || (hash(u) % 1000000) ELSE 'new-' || u END AS unitId FROM "
        f"(SELECT i % {DEDUP_BATCH // 4} AS u FROM range({DEDUP_BATCH}) t(i))"
    )
    base = con.execute("SELECT max(unit_key) FROM unit_keys").fetchone()[0]
    out["unit_keys"] = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        con.execute(BATCH_KEYS, {"base": base})
        out["unit_keys"].append((time.perf_counter() - wall, time.process_time() - cpu))
    con.execute("DROP TABLE _splitlab_keys")
    con.execute("DROP TABLE _splitlab_batch")
    return out


def bench_summary(units: int, events: int, workdir: Path) -> dict[str, float]:
    from splitlab.config import load_experiment
    from splitlab.store import DuckDBStore

    experiment = load_experiment(SUMMARY_EXPERIMENT)
    store = DuckDBStore(workdir / "summary.duckdb")
    try:
        con = store.connection
        with store.lock:
            con.execute(
                "INSERT INTO exposures SELECT 'x' || i, $exp, "
                "['control', 'a', 'b'][1 + (hash(i) % 3)::INT], 'u' || i, "
                "1700000000000 + (i % 86400) * 1000, NULL, i + 1, NULL FROM range($units) t(i)",
                {"exp": EXPERIMENT, "units": units},
            )
            con.execute(
                "INSERT INTO metric_events SELECT 'e' || i, $exp, 'control', "
                "'u' || (hash(i * 7) % $units), 'm' || (i % 5), (hash(i) % 1000) / 10.0, "
                "1700000000000 + (hash(i * 3) % (20 * 86400))::BIGINT * 1000 - 5 * 86400000, "
                "(hash(i * 7) % $units) + 1, NULL FROM range($events) t(i)",
                {"exp": EXPERIMENT, "units": units, "events": events},
            )
            # the unit keys the loader would have given (docs/storage.md)
            con.execute(
                "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)",
                {"units": units},
            )
            con.execute("CHECKPOINT")
        floor_sql = (
            "SELECT count(*), sum(me.value) FROM metric_events me JOIN "
            "(SELECT unit_key, min(ts) AS t0 FROM exposures GROUP BY unit_key) u "
            "ON me.unit_key = u.unit_key WHERE me.ts >= u.t0"
        )
        rounds: dict[str, list[tuple[float, float]]] = {"summary": [], "floor": []}
        for _ in range(3):  # alternate, so machine load hits both alike
            wall, cpu = time.perf_counter(), time.process_time()
            store.summary(experiment)
            rounds["summary"].append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            with store.lock:
                con.execute(floor_sql).fetchall()
            rounds["floor"].append((time.perf_counter() - wall, time.process_time() - cpu))
        with store.lock:
            rounds.update(bench_dedup(con))
    finally:
        store.close()
    out = {}
    for name, values in rounds.items():
        out[f"{name}_s"] = statistics.median(v[0] for v in values)
        out[f"{name}_cpu_s"] = statistics.median(v[1] for v in values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--load-interval", type=float, default=0.5, help="collector's loader")
    parser.add_argument("--duckdb-threads", type=int, default=0, help="collector's DuckDB")
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-summary", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_ingest:
            r = bench_ingest(args, workdir)
            print(f"\nIngestion: {args.clients} clients x batches of {args.batch}, "
                  f"{r['seconds']:.1f} s on loopback")  # fmt: skip
            print(f"  collector (ack after fsync)     {r['events_per_s']:>12,.0f} events/s  "
                  f"p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB  503-retries {r['retries']}")  # fmt: skip
            print(f"  acknowledged {r['accepted']:,}, stored after shutdown {r['stored']:,}")
            print(f"  CPU: collector {r['collector_cpu_s']:.1f} s "
                  f"({r['accepted'] / max(r['collector_cpu_s'], 1e-9):,.0f} events per CPU-second), "
                  f"clients {r['client_cpu_s']:.1f} s")  # fmt: skip
            floor = bench_floor(min(r["accepted"], 2_000_000), args.batch, workdir)
            print(
                f"  DuckDB bulk insert (floor)      {floor['bulk_events_per_s']:>12,.0f} events/s"
            )
            print(f"  DuckDB 1 transaction per batch  "
                  f"{floor['per_batch_events_per_s']:>12,.0f} events/s")  # fmt: skip
        if not args.skip_summary:
            s = bench_summary(args.units, args.events, workdir)
            print(f"\nSummary: {args.events:,} events, {args.units:,} units, 3 variants, "
                  "5 metrics (CUPED, ratio)")  # fmt: skip
            print(f"  DuckDBStore.summary             {s['summary_s']:>8.2f} s wall "
                  f"{s['summary_cpu_s']:>6.2f} s CPU")  # fmt: skip
            print(f"  join events to first exposures  {s['floor_s']:>8.2f} s wall "
                  f"{s['floor_cpu_s']:>6.2f} s CPU  (floor: one sum, no metrics)")  # fmt: skip
            print(f"\nDeduplication of a {DEDUP_BATCH:,}-event load batch against "
                  f"{args.events:,} stored events")  # fmt: skip
            for key, label in (
                ("dedup_window", "anti-join, stored events within 24 h"),
                ("dedup_all", "anti-join, all stored events"),
                ("dedup_summary", "summary side: one row per eventId"),
                ("unit_keys", "unit keys for the batch (25,000 units)"),
            ):
                print(f"  {label:<40} {s[key + '_s']:>6.2f} s wall "
                      f"{s[key + '_cpu_s']:>6.2f} s CPU")  # fmt: skip


if __name__ == "__main__":
    main()
