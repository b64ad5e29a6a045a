"""Replayed batches, replayed logs and duplicate rows change nothing in the sums."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import (
    ClickHouseError,
    ClickHouseStore,
    LocalServer,
)
from splitlab.store.clickhouse.connection import connect
from splitlab.store.clickhouse.http import bind
from splitlab.tracking.events import Event
from tests.clickhouse.simulate import T_BASE, batches, experiment, simulate


def _row_counts(url: str, db: str) -> tuple[int, int]:
    client = connect(url)  # a server's address, or chDB's (tests/on_chdb)
    _, rows = client.query(f"SELECT count(), uniqExact(event_id) FROM {db}.metric_events")
    client.close()
    return int(rows[0][0]), int(rows[0][1])


def test_replaying_everything_changes_nothing(clickhouse: LocalServer, tmp_path: Path) -> None:
    """Batches sent again to the same store, and again through a second store with an empty
    memory of ids (so ClickHouse really holds duplicate rows), leave the summary unchanged."""
    rng = np.random.default_rng(7)
    sent = batches(rng, simulate(rng, units=400), duplicate_share=0.0)
    exp = experiment()
    with ClickHouseStore(clickhouse.url, tmp_path / "a", database="idem") as first:
        for batch in sent:
            first.ingest(batch)
        before = first.summary(exp, segment="country").to_dict()
        quality = first.data_quality(exp)
        results = [first.ingest(batch) for batch in sent]
        assert [r.duplicates for r in results] == [len(b) for b in sent]
        assert all(r.accepted == 0 for r in results)
        with ClickHouseStore(clickhouse.url, tmp_path / "b", database="idem") as second:
            for batch in reversed(sent):
                assert second.ingest(batch).accepted == len(batch)
            second.flush()
            total, distinct = _row_counts(clickhouse.url, "idem")
            assert total == 2 * distinct
            assert second.summary(exp, segment="country").to_dict() == before
            assert second.data_quality(exp) == quality
            assert first.summary(exp, segment="country").to_dict() == before


@pytest.mark.parametrize("dedup", ["final", "limit_by"])
def test_both_deduplication_strategies_agree_with_duckdb(
    clickhouse: LocalServer, tmp_path: Path, dedup: str
) -> None:
    """Deduplicating with FINAL or with LIMIT 1 BY event_id gives DuckDB's sums; without any
    deduplication the duplicate rows would show (so the comparison has power)."""
    rng = np.random.default_rng(11)
    sent = batches(rng, simulate(rng, units=300), duplicate_share=0.0)
    exp = experiment()
    db = f"dedup_{dedup}"
    with (
        DuckDBStore(tmp_path / "d.duckdb") as duck,
        ClickHouseStore(clickhouse.url, tmp_path / "a", database=db) as one,
        ClickHouseStore(clickhouse.url, tmp_path / "b", database=db, dedup=dedup) as two,  # type: ignore[arg-type]
        ClickHouseStore(clickhouse.url, tmp_path / "c", database=db, dedup="none") as raw,
    ):
        for batch in sent:
            duck.ingest(batch)
            one.ingest(batch)
            two.ingest(batch)
        one.flush()
        expected = duck.summary(exp).to_dict()
        assert two.summary(exp).to_dict() == expected
        assert two.data_quality(exp) == duck.data_quality(exp)
        assert raw.summary(exp).to_dict() != expected


def test_first_exposure_without_attributes_is_labelled_none(
    clickhouse: LocalServer, tmp_path: Path
) -> None:
    """A unit whose first exposure carries no attributes is in "(none)", whatever later
    exposures carry (segments come from the first exposure only)."""
    exp = experiment()
    events = [
        Event("x1", "exposure", exp.experiment_id, "a", "u1", T_BASE),
        Event("x2", "exposure", exp.experiment_id, "a", "u1", T_BASE + 5,
              attributes={"country": "US"}),
        Event("x3", "exposure", exp.experiment_id, "b", "u2", T_BASE,
              attributes={"country": "US"}),
    ]  # fmt: skip
    with ClickHouseStore(clickhouse.url, tmp_path / "log", database="noattrs") as store:
        store.ingest(events)
        sums = store.summary(exp, segment="country").to_dict()
    assert sums["segments"]["country=(none)"]["units"] == {"control": 0.0, "a": 1.0, "b": 0.0}
    assert sums["segments"]["country=US"]["units"] == {"control": 0.0, "a": 0.0, "b": 1.0}


def test_quotes_and_backslashes_in_ids_are_data_not_sql(
    clickhouse: LocalServer, tmp_path: Path
) -> None:
    """Experiment ids, metric names and units with quotes and backslashes round-trip as
    literals; values that cannot be literals are refused with the value named."""
    exp = experiment().model_copy(update={"experiment_id": "it's \\' a test"})
    events = [
        Event("x1", "exposure", exp.experiment_id, "a", "u'1", T_BASE),
        Event("m1", "metric", exp.experiment_id, "a", "u'1", T_BASE + 1, "revenue", 2.5),
    ]
    with ClickHouseStore(clickhouse.url, tmp_path / "log", database="quotes") as store:
        store.ingest(events)
        sums = store.summary(exp).to_dict()
    assert sums["metrics"]["revenue"]["a"]["sum"] == 2.5
    with pytest.raises(ClickHouseError, match="nan"):
        bind("SELECT $v", {"v": float("nan")})
    with pytest.raises(ClickHouseError, match=r"\$w"):
        bind("SELECT $w", {})
