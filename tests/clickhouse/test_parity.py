"""ClickHouseStore and DuckDBStore give the same sums and data-quality counts on the same events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseClient, ClickHouseStore, LocalServer
from tests.clickhouse.simulate import DAY, HOUR, T_BASE, batches, experiment, simulate

Stores = tuple[ClickHouseStore, DuckDBStore, Experiment]
CUTOFF = datetime.fromtimestamp((T_BASE + 6 * DAY) / 1000, tz=UTC)


@pytest.fixture(scope="module")
def stores(clickhouse: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Both stores fed the same shuffled batches, a tenth of the events sent twice."""
    rng = np.random.default_rng(20261123)
    sent = batches(rng, simulate(rng))
    tmp: Path = tmp_path_factory.mktemp("parity")
    duck = DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(clickhouse.url, tmp / "log", database="parity", load_interval_s=0.05)
    for batch in sent:
        duck.ingest(batch)
        house.ingest(batch)
    yield house, duck, experiment()
    house.close()
    duck.close()


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
@pytest.mark.parametrize(
    "segment", [None, "country", ["country", "tier", "mobile"]], ids=["none", "one", "three"]
)
def test_summary_equals_duckdb(
    stores: Stores, cutoff: datetime | None, segment: str | list[str] | None
) -> None:
    """Every metric type, window, CUPED covariate and segment slice sums to DuckDB's numbers."""
    house, duck, exp = stores
    expected = duck.summary(exp, cutoff=cutoff, segment=segment).to_dict()
    assert house.summary(exp, cutoff=cutoff, segment=segment).to_dict() == expected
    assert all(n > 100 for n in expected["units"].values())


def test_segment_labels_cover_strings_numbers_booleans_and_missing(stores: Stores) -> None:
    """Segment labels render strings (with quotes and backslashes), ints, bools and "(none)"."""
    house, _, exp = stores
    sums = house.summary(exp, segment=["country", "tier", "mobile"]).to_dict()
    labels = set(sums["segments"])
    assert {"country=J'P \\x", "country=(none)", "tier=2", "mobile=true", "mobile=false"} <= labels
    assert "country=FR" not in labels  # later exposures never set the segment


def test_parity_covers_other_experiments_events_in_the_cuped_lookback(
    stores: Stores, clickhouse: LocalServer
) -> None:
    """The simulated data has pre-exposure events of another experiment inside the lookback
    and post-exposure events outside a window, so the parity above checks both rules."""
    house, duck, exp = stores
    assert house.summary(exp).to_dict() == duck.summary(exp).to_dict()
    client = ClickHouseClient(clickhouse.url)
    _, rows = client.query(
        """SELECT countIf(m.experiment_id = 'other-exp' AND m.ts < t0 AND m.ts >= t0 - $lookback),
                  countIf(m.metric = 'purchase' AND m.ts >= t0 + $window)
           FROM parity.metric_events AS m
           ALL INNER JOIN (SELECT unit_id, min(ts) AS t0 FROM parity.exposures GROUP BY unit_id)
           USING unit_id""",
        {"lookback": 7 * DAY, "window": 48 * HOUR},
    )
    client.close()
    assert rows[0][0] > 0 and rows[0][1] > 0


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
def test_data_quality_equals_duckdb(stores: Stores, cutoff: datetime | None) -> None:
    """Multi-exposed units and unexposed, mismatched and pre-exposure events match DuckDB."""
    house, duck, exp = stores
    expected = duck.data_quality(exp, cutoff)
    assert house.data_quality(exp, cutoff) == expected
    classic = ("multiExposedUnits", "unexposedMetricEvents", "variantMismatchEvents",
               "preExposureMetricEvents")  # fmt: skip
    assert min(expected.to_dict()[k] for k in classic) > 0
