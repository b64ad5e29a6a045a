"""The data of docs/sql-metrics.md's worked example: a shop's orders table and the exposures.

    python examples/sql_metrics/make_data.py FOLDER

writes, in FOLDER, next to a copy of the definition ``exp-checkout-revenue.json`` and the
catalog ``sources.json``:

* ``orders.parquet``: the shop's orders (``order_id``, ``customer_id``, ``placed_at``
  TIMESTAMP in UTC, ``total_eur``, ``status`` paid or cancelled), written by DuckDB's
  ``COPY``. It stands for the shop's own table: splitlab reads it only through the SQL
  metrics of ``exp-checkout-revenue.json`` and the catalog ``sources.json``.
* ``events.duckdb``: a splitlab database holding the exposures of 4,000 customers, assigned
  by splitlab's assignment service from the definition (as the shop's checkout would have
  sent them, one a customer, between 2026-03-02 and 2026-03-09 UTC).

The orders are simulated with a fixed seed: every customer orders at a rate of their own
(gamma-distributed, so a few order very often), over the 28 days before their exposure and
the 14 days after; the one-page checkout raises the rate by 10% and the amounts are
lognormal (median about 33 EUR), 7% of orders cancelled.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import load_experiment
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event

HERE = Path(__file__).resolve().parent
CUSTOMERS = 4_000
FIRST_EXPOSURE = datetime(2026, 3, 2, tzinfo=UTC)
SEED = 2026


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("exp-checkout-revenue.json", "sources.json"):
        (folder / name).write_text((HERE / name).read_text())
    definition = json.loads((HERE / "exp-checkout-revenue.json").read_text())
    experiment = load_experiment(definition)
    service = ExperimentAssignmentService([experiment])
    rng = np.random.default_rng(SEED)
    exposures: list[Event] = []
    ids, times, totals, statuses = [], [], [], []
    for k in range(CUSTOMERS):
        customer = f"c{k + 1:05d}"
        variant = service.assign(customer, experiment.experiment_id).variant
        assert variant is not None
        t0 = FIRST_EXPOSURE + timedelta(seconds=float(rng.uniform(0, 7 * 86_400)))
        t0 = t0.replace(microsecond=(t0.microsecond // 1000) * 1000)
        exposures.append(
            Event(
                f"x-{customer}",
                "exposure",
                experiment.experiment_id,
                variant,
                customer,
                int(t0.timestamp() * 1000),
            )
        )
        rate = rng.gamma(0.5, 0.12)  # orders a day
        lift = 1.10 if variant == "one_page" else 1.0
        for start, days, factor in ((-28, 28, 1.0), (0, 14, lift)):
            for _ in range(rng.poisson(rate * days * factor)):
                at = t0 + timedelta(days=start + float(rng.uniform(0, days)))
                ids.append(customer)
                times.append(at.replace(tzinfo=None, microsecond=0))
                totals.append(round(float(rng.lognormal(3.5, 0.8)), 2))
                statuses.append("cancelled" if rng.random() < 0.07 else "paid")
    orders = pa.table(
        {
            "order_id": pa.array(range(1, len(ids) + 1), pa.int64()),
            "customer_id": pa.array(ids, pa.string()),
            "placed_at": pa.array(times, pa.timestamp("us")),
            "total_eur": pa.array(totals, pa.float64()),
            "status": pa.array(statuses, pa.string()),
        }
    )
    con = duckdb.connect()
    con.register("orders", orders)
    con.execute(
        f"COPY (SELECT * FROM orders ORDER BY placed_at) TO '{folder / 'orders.parquet'}'"
        " (FORMAT parquet)"
    )
    con.close()
    store = DuckDBStore(folder / "events.duckdb")
    try:
        store.ingest(exposures)
    finally:
        store.close()
    print(f"{folder / 'orders.parquet'}: {len(ids):,} orders")
    print(f"{folder / 'events.duckdb'}: {len(exposures):,} exposures")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/sql_metrics/make_data.py FOLDER")
    main(Path(sys.argv[1]))
