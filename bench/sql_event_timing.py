"""Benchmark: retention and time-to-event metrics from SQL rows against the same rows as events.

Data: the retention / time-to-event simulation of the store tests (tests/store/survival_data.py:
staggered exposures, daily visits, purchases; 3 retention and 2 time-to-event metrics, a
conversion and a CUPED revenue metric, segment ``region``), ``--units`` units. Cases, run
alternately (bench/harness.py), each one look's ``DuckDBStore.summary`` at the simulation's
cut-off with the ``region`` segment:

* ``events``: the metric events loaded into the store (the baseline);
* ``sql over parquet``: only the exposures in the store, every metric defined by a query
  over a Parquet file of the same rows (fetched at each look, then the summary, the
  retention curve and the survival query read them);
* ``fetching the sql rows only``: the part of the second case that runs the 7 queries.

The two summaries are checked equal before timing.

Run: ``.venv/bin/python bench/sql_event_timing.py [--units N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.sources import FilesSource, FileTable, SourceCatalog
from splitlab.store import DuckDBStore
from splitlab.store.summary_sql import cutoff_millis
from tests.store.sql_metric_helpers import write_parquet
from tests.store.survival_data import CUTOFF, DEFINITION, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = simulate(np.random.default_rng(1), args.units)
    rows = [
        (e.unit_id, e.timestamp, e.metric or "", float(e.value if e.value is not None else 1.0))
        for e in events
        if e.type == "metric" and e.experiment_id == "ret"
    ]
    raw = copy.deepcopy(DEFINITION)
    for metric in [raw["metrics"]["primary"], *raw["metrics"]["secondary"]]:
        metric["sql"] = {
            "source": "lake",
            "query": "SELECT user_key AS unit_id, happened_at AS timestamp, amount AS value "
            f"FROM events WHERE event_name = '{metric.get('event', metric['name'])}'",
        }
    by_sql, by_events = load_experiment(raw), load_experiment(DEFINITION)
    at = datetime.fromtimestamp(CUTOFF / 1000, UTC)
    with tempfile.TemporaryDirectory() as tmp:
        write_parquet(rows, Path(tmp) / "events.parquet")
        table = FileTable(path=str(Path(tmp) / "events.parquet"), format="parquet")
        catalog = SourceCatalog(
            sources={"lake": FilesSource(type="files", tables={"events": table})}
        )
        with (
            DuckDBStore(Path(tmp) / "e.duckdb", sync=False) as a,
            DuckDBStore(Path(tmp) / "s.duckdb", sync=False, sources=catalog) as b,
        ):
            for start in range(0, len(events), 50_000):
                a.ingest(events[start : start + 50_000])
            b.ingest([e for e in events if e.type == "exposure"])
            expected = a.summary(by_events, at, "region").to_dict()
            assert b.summary(by_sql, at, "region").to_dict()["metrics"] == expected["metrics"]
            millis = cutoff_millis(at)
            found = compare(
                {
                    "events": lambda: a.summary(by_events, at, "region"),
                    "sql over parquet": lambda: b.summary(by_sql, at, "region"),
                    "fetching the sql rows only": lambda: b._sql_rows(by_sql, millis),
                },
                ops_per_round=1,
                rounds=args.rounds,
            )
    load = os.getloadavg()[0]
    report(f"{args.units:,} units, {len(rows):,} metric rows (load {load:.1f})", found, "events")


if __name__ == "__main__":
    main()
