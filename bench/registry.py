"""POST /v1/assign with the registry in DuckDB against the registry in PostgreSQL.

Two `splitlab serve` processes on loopback, the same three running experiments and the same
keys: one keeps its registry in its DuckDB file, the other in a PostgreSQL database (a
throw-away server from Debian's package, started here). The load client of bench/server.py
drives both in alternating rounds. Beside the figures, the PostgreSQL server's own counters
(`pg_stat_database.xact_commit` of the registry database) over the PostgreSQL rounds show
that assignment does not query PostgreSQL per request: what remains is the once-a-second
version poll.

    .venv/bin/python bench/registry.py --seconds 10 --connections 8
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from server import DEFINITIONS, load, request, start, summarise  # noqa: E402
from tests.collector.collector_helpers import free_port  # noqa: E402
from tests.postgres import running_postgres  # noqa: E402


def prepare(db: Path, registry: str | None = None) -> tuple[str, str]:
    """Three running experiments, an admin and an SDK key, in `registry` (or the DuckDB
    file `db`)."""
    from fastapi.testclient import TestClient

    from splitlab.server.app import create_app
    from splitlab.server.context import ServerContext
    from splitlab.store import DuckDBStore
    from splitlab.store.pgregistry.registry import PostgresRegistry

    store = DuckDBStore(db)
    shared = PostgresRegistry.connect(registry) if registry else None
    try:
        ctx = ServerContext.open(store, shared)
        admin = ctx.keys.create("admin", "bench").secret
        sdk = ctx.keys.create("sdk", "bench").secret
        with TestClient(create_app(ctx)) as client:
            for path in DEFINITIONS:
                answer = client.post("/v1/experiments", content=path.read_bytes(),
                                     headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
                answer.raise_for_status()
    finally:
        store.close()
        if shared is not None:
            shared.close()
    return admin, sdk


def commits(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per case")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    body = json.dumps({"unitId": "user-1"}).encode()
    with running_postgres() as pg, tempfile.TemporaryDirectory() as tmp:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_registry")
        dsn = pg.dsn_for("bench_registry")
        cases: dict[str, dict[str, Any]] = {}
        for name, registry in (("duckdb", None), ("postgresql", dsn)):
            db = Path(tmp) / f"{name}.duckdb"
            _, sdk = prepare(db, registry)
            port = free_port()
            command = [sys.executable, "-m", "splitlab", "serve", "--db", str(db), "--port",
                       str(port), "--log-level", "warning", "--no-scheduler"]  # fmt: skip
            if registry:
                command += ["--registry", registry]
            cases[name] = {"port": port, "requests": [request("/v1/assign", body, sdk)],
                           "process": start(command, port), "rounds": []}  # fmt: skip
        pg_commits = 0
        pg_seconds = 0.0
        try:
            for _ in range(args.rounds):
                for name, case in cases.items():
                    before = commits(dsn) if name == "postgresql" else 0
                    result = load(case["port"], case["requests"], args.seconds / args.rounds,
                                  args.connections)  # fmt: skip
                    if name == "postgresql":
                        pg_commits += commits(dsn) - before - 1  # less this query's own
                        pg_seconds += result["seconds"]
                    case["rounds"].append(result)
        finally:
            for case in cases.values():
                case["process"].terminate()
                case["process"].wait(timeout=60)
    print(f"POST /v1/assign, {args.connections} connections, {args.seconds:.0f} s per case "
          f"in {args.rounds} alternating rounds; {platform.python_version()}")  # fmt: skip
    print(
        f"{'registry':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8}"
    )
    for name, case in cases.items():
        s = summarise(case["rounds"])
        print(f"{name:<12} {s['rps']:>9.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} "
              f"{s['requests']:>9.0f} {s['non_2xx']:>8.0f}")  # fmt: skip
    requests = summarise(cases["postgresql"]["rounds"])["requests"]
    print(f"PostgreSQL transactions during the PostgreSQL rounds: {pg_commits} in "
          f"{pg_seconds:.1f} s for {requests:.0f} assignments "
          f"({pg_commits / max(requests, 1):.5f} per assignment)")  # fmt: skip


if __name__ == "__main__":
    main()
