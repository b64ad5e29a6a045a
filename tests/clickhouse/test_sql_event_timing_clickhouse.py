"""Retention and time-to-event metrics defined by SQL on the ClickHouse store (ClickHouse
18.16): the same rows as a query over a ClickHouse table give the same eligible and retained
sums, retention curves and survival tables (overall and per segment) as those rows sent as
this experiment's metric events. tests/on_chdb runs the same test on chDB (ClickHouse 26)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from splitlab.config import Experiment, load_experiment
from splitlab.config.sources import ClickHouseSource, SourceCatalog
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.clickhouse.connection import connect
from splitlab.tracking.events import Event
from tests.store.survival_data import CUTOFF, DEFINITION, RETENTION, TIME_TO_EVENT, simulate


def _sql_experiment() -> Experiment:
    """Every metric read by a query over ``timingsrc.events``; the retention metrics' queries
    return no value (NULL)."""
    raw = copy.deepcopy(DEFINITION)
    metrics = raw["metrics"]
    for metric in [metrics["primary"], *metrics["secondary"]]:
        value = "NULL" if metric["type"] == "retention" else "amount"
        metric["sql"] = {
            "source": "house",
            "query": f"SELECT user_key AS unit_id, happened_at AS timestamp, {value} AS value "
            f"FROM timingsrc.events WHERE event_name = '{metric.get('event', metric['name'])}'",
        }
    return load_experiment(raw)


def _in_seconds(events: list[Event]) -> list[Event]:
    """The simulation at whole seconds (18.16's ``DateTime`` counts seconds)."""
    out = []
    for e in events:
        ts = e.timestamp // 1000 * 1000
        out.append(
            Event(
                e.event_id,
                e.type,
                e.experiment_id,
                e.variant,
                e.unit_id,
                ts,
                e.metric,
                e.value,
                e.attributes,
            )
        )
    return out


def test_sql_rows_give_the_event_curves_and_tables(clickhouse: LocalServer, tmp_path: Path) -> None:
    events = _in_seconds(simulate(np.random.default_rng(20261204), units=400))
    own = [e for e in events if e.type == "metric" and e.experiment_id == "ret"]
    client = connect(clickhouse.url)
    client.execute("CREATE DATABASE IF NOT EXISTS timingsrc")
    client.execute(
        "CREATE TABLE timingsrc.events (user_key String, happened_at DateTime, "
        "event_name String, amount Float64) ENGINE = MergeTree ORDER BY user_key"
    )
    rows = [
        json.dumps(
            {
                "user_key": e.unit_id,
                "happened_at": e.timestamp // 1000,
                "event_name": e.metric,
                "amount": e.value,
            }
        )
        for e in own
    ]
    client.insert("timingsrc.events", ("\n".join(rows) + "\n").encode())
    by_events = ClickHouseStore(
        clickhouse.url, tmp_path / "log-e", database="timing_events", load_interval_s=0.05
    )
    by_sql = ClickHouseStore(
        clickhouse.url,
        tmp_path / "log-s",
        database="timing_sql",
        load_interval_s=0.05,
        sources=SourceCatalog(sources={"house": ClickHouseSource(type="clickhouse")}),
    )
    try:
        by_events.ingest(events)
        by_sql.ingest([e for e in events if e.type == "exposure"])
        for cutoff in (datetime.fromtimestamp(CUTOFF / 1000, UTC), None):
            expected = by_events.summary(load_experiment(DEFINITION), cutoff, "region").to_dict()
            actual = by_sql.summary(_sql_experiment(), cutoff, "region").to_dict()
            assert actual["metrics"] == expected["metrics"], cutoff
            assert actual["segments"] == expected["segments"], cutoff
            assert actual["units"] == expected["units"]
            # not vacuous: curves with retained units, tables with observed and censored units
            for name in RETENTION:
                assert sum(expected["metrics"][name]["a"]["retention"]["retained"]) > 0
            for name in TIME_TO_EVENT:
                table = expected["segments"]["region=US"]["metrics"][name]["b"]["survival"]
                assert sum(table["events"]) > 0, name
            arms = expected["metrics"]["time_to_buy"].values()
            assert sum(sum(arm["survival"]["censored"]) for arm in arms) > 0
    finally:
        by_sql.close()
        by_events.close()
        client.close()
