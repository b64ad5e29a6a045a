"""The dashboard's exposure counts read from ClickHouse (`splitlab serve --clickhouse`; 18.16
and chDB) equal the DuckDB store's on the same events: first exposures per day, per variant
with the rate window (units and clusters), the latest exposure, and nothing for an
experiment without events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore
from splitlab.store.exposure_progress import ExposureReads, exposure_reads
from splitlab.tracking.events import Event

DAY = 86_400_000
T0 = 1_780_000_000_000  # 2026-05-28


def _events() -> list[Event]:
    """Exposures over ten days: repeated exposures (some in another variant later), clusters
    of several units (a few seen in two variants, some exposures without a cluster), and a
    tenth of the events sent twice."""
    rng = np.random.default_rng(1204)
    events: list[Event] = []
    for n in range(2_000):
        first = T0 + int(rng.integers(10 * DAY))
        cluster = None if n % 17 == 0 else f"c{n % 150}"
        variant = ["control", "treatment"][n % 150 % 2]  # a cluster's units share one
        for k in range(1 + int(rng.integers(3))):
            later = variant if rng.random() < 0.99 else "control"
            events.append(Event(f"e{n}-{k}", "exposure", "exp-a", later if k else variant,
                                f"u{n}", first + k * int(rng.integers(DAY)),
                                cluster_id=cluster))  # fmt: skip
    return events + events[::10]


@pytest.fixture(scope="module", params=["server", "chdb"], ids=["clickhouse-18.16", "chdb"])
def reads(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ExposureReads, ExposureReads]]:
    """The reads on a ClickHouse store (the Debian server, or chDB) and on a DuckDB store
    given the same events."""
    tmp: Path = tmp_path_factory.mktemp("exposure-reads")
    if request.param == "server":
        url = request.getfixturevalue("clickhouse").url
    else:
        url = f"chdb:{tmp / 'chdb'}"
    duck = DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(url, tmp / "log", database="reads", load_interval_s=0.05)
    events = _events()
    for at in range(0, len(events), 500):
        duck.ingest(events[at : at + 500])
        house.ingest(events[at : at + 500])
    yield exposure_reads(house), exposure_reads(duck)
    house.close()
    duck.close()


def test_exposures_by_day_equal_duckdb(reads: tuple[ExposureReads, ExposureReads]) -> None:
    house, duck = reads
    expected = duck.exposures_by_day("exp-a")
    assert house.exposures_by_day("exp-a") == expected
    assert sum(units for _, _, units in expected) == 2_000
    assert len({day for day, _, _ in expected}) >= 10


@pytest.mark.parametrize("clusters", [False, True], ids=["units", "clusters"])
@pytest.mark.parametrize("window_days", [2, 30], ids=["window", "since-first"])
def test_first_exposures_equal_duckdb(
    reads: tuple[ExposureReads, ExposureReads], clusters: bool, window_days: int
) -> None:
    house, duck = reads
    expected = sorted(duck.first_exposures("exp-a", clusters=clusters, window_ms=window_days * DAY))
    found = house.first_exposures("exp-a", clusters=clusters, window_ms=window_days * DAY)
    assert found == expected
    total = sum(row.units for row in expected)
    assert total == 2_000 if not clusters else 0 < total < 150  # some clusters in two variants
    assert all(0 < row.recent <= row.units for row in expected)


def test_latest_and_an_experiment_without_events(
    reads: tuple[ExposureReads, ExposureReads],
) -> None:
    house, duck = reads
    assert house.latest_exposure("exp-a") == duck.latest_exposure("exp-a") is not None
    assert house.latest_exposure("exp-none") is None
    assert house.exposures_by_day("exp-none") == []
    assert house.first_exposures("exp-none", clusters=True, window_ms=DAY) == []
