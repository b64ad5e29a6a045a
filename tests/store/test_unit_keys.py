"""Integer unit keys: one per unit id, stable across loads and restarts, and added to old files.

The summary joins metric events to exposures by ``unit_key``; these tests check that the keys
the loader gives make that join the same as joining by ``unit_id``, and that a file written
before keys existed is upgraded and summarised exactly as a fresh one.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from splitlab.config import load_experiment
from splitlab.store import DuckDBStore

from .store_helpers import (
    DEFINITION,
    data_quality,
    expected_sums,
    experiment,
    key_problems,
    simulate,
)
from .test_summary import assert_sums_equal

#: The tables as splitlab wrote them before unit keys (the upgrade's starting point).
OLD_SCHEMA = """
CREATE TABLE exposures (event_id VARCHAR NOT NULL, experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, ts BIGINT NOT NULL, attributes JSON);
CREATE TABLE metric_events (event_id VARCHAR NOT NULL, experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL, ts BIGINT NOT NULL);
CREATE TABLE splitlab_log_position (log_id VARCHAR PRIMARY KEY, segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL);
"""


def test_keys_are_stable_across_loads_and_restarts(tmp_path: Path) -> None:
    """Events of one unit in several loads, experiments and sessions share one key."""
    events = simulate(np.random.default_rng(20261124), units=300)
    thirds = [events[: len(events) // 3], events[len(events) // 3 : 2 * len(events) // 3]]
    path = tmp_path / "events.duckdb"
    with DuckDBStore(path) as store:
        for part in thirds:  # two separate loads
            store.ingest(part)
            store.flush()
    with DuckDBStore(path) as store:  # a new session: the loader reads the keys it stored
        store.ingest(events[2 * len(events) // 3 :])
        store.ingest(events)  # every event again: deduplicated, no new keys
        sums = store.summary(experiment()).to_dict()
        with store.lock:
            problems = key_problems(store.connection)
            stored = store.connection.execute("SELECT count(*) FROM unit_keys").fetchone()[0]
        quality = store.data_quality(experiment()).to_dict()
    assert problems == dict.fromkeys(problems, 0)
    assert stored == len({e.unit_id for e in events})
    assert_sums_equal(
        {k: sums[k] for k in ("units", "metrics")}, expected_sums(events, experiment())
    )
    assert quality == {"experimentId": "sim", **data_quality(events)}


def test_file_from_before_unit_keys_is_upgraded(tmp_path: Path) -> None:
    """Opening an old file adds the keys once; its summary equals the reference, new events fit."""
    events = simulate(np.random.default_rng(7), units=250)
    old, new = events[: len(events) // 2], events[len(events) // 2 :]
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_SCHEMA)
    con.executemany(
        "INSERT INTO exposures VALUES (?, ?, ?, ?, ?, ?)",
        [
            (e.event_id, e.experiment_id, e.variant, e.unit_id, e.timestamp,
             None if e.attributes is None else json.dumps(e.attributes))
            for e in old if e.type == "exposure"
        ],
    )  # fmt: skip
    con.executemany(
        "INSERT INTO metric_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (e.event_id, e.experiment_id, e.variant, e.unit_id, e.metric, e.value, e.timestamp)
            for e in old if e.type == "metric"
        ],
    )  # fmt: skip
    con.close()
    with DuckDBStore(path) as store:
        before = store.summary(experiment()).to_dict()
        store.ingest(new)
        after = store.summary(experiment()).to_dict()
        with store.lock:
            problems = key_problems(store.connection)
            nullable = store.connection.execute(
                "SELECT table_name, is_nullable FROM information_schema.columns "
                "WHERE column_name = 'unit_key' ORDER BY table_name"
            ).fetchall()
    assert problems == dict.fromkeys(problems, 0)
    assert nullable == [("exposures", "NO"), ("metric_events", "NO"), ("unit_keys", "NO")]
    assert_sums_equal(
        {k: before[k] for k in ("units", "metrics")}, expected_sums(old, experiment())
    )
    assert_sums_equal(
        {k: after[k] for k in ("units", "metrics")}, expected_sums(events, experiment())
    )


@pytest.mark.parametrize(
    "variants", [["control", "c"], ["control", "a", "c"]], ids=["a-b-dropped", "b-renamed"]
)
def test_variant_mismatches_with_a_definition_that_changed(
    tmp_path: Path, variants: list[str]
) -> None:
    """Events in a variant the definition no longer lists are still compared by their name.

    The summary compares variants as numbers (position in the definition, else a hash of the
    name); the counts must equal the string comparison of the reference.
    """
    events = simulate(np.random.default_rng(99), units=200)
    changed = load_experiment({**DEFINITION, "variants": variants})
    assert list(changed.variant_names) == variants
    with DuckDBStore(tmp_path / "events.duckdb") as store:
        store.ingest(events)
        store.summary(changed)  # keeps the counts of its own pass for the next call
        from_summary = store.data_quality(changed).to_dict()
        standalone = store.data_quality(changed).to_dict()  # recomputed with strings
    assert from_summary == standalone == {"experimentId": "sim", **data_quality(events)}
