"""What a new unit of a sticky experiment costs in the sticky store: before and after the log.

A new unit is what ``/v1/assign`` does for it: ``get`` (a miss) then ``put``. Two stores, each
on its own DuckDB file on disk, fed fresh units in alternating rounds:

* ``DirectStickyStore``: each put its own DuckDB transaction (the server's store before);
* ``DuckDBStickyStore``: each put an fsync'd append to its log with group commit, loaded
  into DuckDB in batches by a background thread (the server's store now).

Single thread (the time per new unit is its latency) and 8 threads (throughput; the latency
percentiles of the individual calls are printed after the table).

Run: ``cd bench && ../.venv/bin/python sticky.py``. Prints medians of alternating rounds.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from harness import compare, report
from splitlab.assignment.sticky import StickyStore
from splitlab.store.sticky import DirectStickyStore, DuckDBStickyStore

UNITS = 240  # new units per round (per thread count)
THREADS = 8
EID = "exp-bench"


def new_units(store: StickyStore, threads: int, latencies: list[float]) -> Callable[[], None]:
    """A round: `UNITS` fresh units, each a get (miss) then a put, over `threads` threads."""
    counter = itertools.count()
    prefix = f"t{threads}"

    def one_thread(n: int) -> None:
        mine: list[float] = []
        for _ in range(n):
            unit = f"{prefix}-{next(counter)}"
            start = time.perf_counter()
            if store.get(EID, unit) is None:
                store.put(EID, unit, "treatment")
            mine.append(time.perf_counter() - start)
        latencies.extend(mine)

    def run() -> None:
        if threads == 1:
            one_thread(UNITS)
            return
        workers = [
            threading.Thread(target=one_thread, args=(UNITS // threads,)) for _ in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    return run


def percentiles(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"  {name:<42} p50 {q[49] * 1e3:7.3f} ms   p99 {q[98] * 1e3:7.3f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        direct_con = duckdb.connect(str(Path(tmp) / "direct.duckdb"))
        logged_con = duckdb.connect(str(Path(tmp) / "logged.duckdb"))
        direct = DirectStickyStore(direct_con)
        logged = DuckDBStickyStore(logged_con, log_dir=Path(tmp) / "logged.duckdb.sticky.log")
        names = {"direct": "DuckDB transaction per put (before)", "logged": "fsync'd log (now)"}
        stores: dict[str, StickyStore] = {"direct": direct, "logged": logged}
        for threads in (1, THREADS):
            lat: dict[str, list[float]] = {k: [] for k in stores}
            cases = {names[k]: new_units(s, threads, lat[k]) for k, s in stores.items()}
            title = f"new unit: get + put, {threads} thread(s), {UNITS} units per round"
            report(title, compare(cases, UNITS, rounds=7), names["direct"])
            for key, values in lat.items():
                print(percentiles(names[key], values), flush=True)
        logged.flush()
        print(f"kept: before {direct.count(EID)}, now {logged.count(EID)}")
        logged.close()
        direct_con.close()
        logged_con.close()


if __name__ == "__main__":
    main()
