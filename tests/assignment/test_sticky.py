"""Sticky assignment: an exposed unit keeps its first variant; a failing store gives none."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.result import Reason
from splitlab.assignment.sticky import MemoryStickyStore, StickyStoreError
from splitlab.store.sticky import DirectStickyStore, DuckDBStickyStore
from tests.assignment.assignment_helpers import experiment

UNITS = [f"user-{i}" for i in range(3000)]
EID = "exp-test"


def sticky(**changes: object) -> object:
    return experiment(assignment={"sticky": True}, **changes)


def open_store(kind: str, con: duckdb.DuckDBPyConnection, tmp: Path) -> Any:
    """The server's store (log beside the file) or the one writing the table directly."""
    if kind == "logged":
        return DuckDBStickyStore(con, log_dir=tmp / "sticky.log")
    return DirectStickyStore(con)


def close(store: object) -> None:
    if isinstance(store, DuckDBStickyStore):
        store.close()


class BrokenStore:
    """A store whose every call fails (a database that went away)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get(self, experiment_id: str, unit_id: str) -> str | None:
        raise self.error

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        raise self.error


def test_exposed_units_keep_their_variant_when_weights_traffic_and_targeting_change() -> None:
    store = MemoryStickyStore()
    service = ExperimentAssignmentService([sticky()], sticky=store)
    first = {u: service.assign(u, EID).variant for u in UNITS}
    assert set(first.values()) == {"control", "variant-a", "variant-b"}
    changed = sticky(
        variants=[
            {"name": "control", "weight": 0.1},
            {"name": "variant-a", "weight": 0.1},
            {"name": "variant-b", "weight": 0.8},
        ],
        trafficAllocation=0.2,
        targeting={"include": ["region:US"]},
    )
    service.update([changed])
    again = {u: service.assign(u, EID) for u in UNITS}
    assert all(a.reason is Reason.ASSIGNED for a in again.values())
    assert {u: a.variant for u, a in again.items()} == first
    # The same change without stickiness moves many of them (so the check above can fail).
    plain = ExperimentAssignmentService([experiment(**{
        k: v for k, v in changed.to_wire().items() if k not in ("assignment",)
    })])  # fmt: skip
    moved = sum(plain.assign(u, EID, {"region": "US"}).variant != first[u] for u in UNITS)
    assert moved > 1000
    # New units follow the new weights, targeting and traffic.
    new = [service.assign(f"new-{i}", EID, {"region": "US"}) for i in range(4000)]
    shares = [a.variant for a in new if a.variant is not None]
    assert 600 < len(shares) < 1000  # about 20 % of 4000
    assert shares.count("variant-b") > 0.7 * len(shares)
    assert service.assign("new-x", EID, {"region": "EU"}).reason is Reason.NOT_TARGETED


def test_status_overrides_stickiness() -> None:
    store = MemoryStickyStore()
    service = ExperimentAssignmentService([sticky()], sticky=store)
    kept = {u: service.assign(u, EID).variant for u in UNITS[:300]}
    assert any(v != "control" for v in kept.values())
    service.update([sticky(status="rolled_back")])
    assert {service.assign(u, EID).reason for u in kept} == {Reason.ROLLED_BACK}
    assert {service.assign(u, EID).variant for u in kept} == {"control"}
    service.update([sticky(status="shipped", shippedVariant="variant-b")])
    assert {service.assign(u, EID).variant for u in kept} == {"variant-b"}
    service.update([sticky(forcedVariant="variant-a")])
    assert {service.assign(u, EID).reason for u in kept} == {Reason.TOGGLED}


@pytest.mark.parametrize("error", [StickyStoreError("down"), RuntimeError("bug"), OSError("io")])
def test_a_failing_store_gives_no_variant_and_is_counted(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    service = ExperimentAssignmentService([sticky()], sticky=BrokenStore(error))
    got = service.assign("user-1", EID)
    assert (got.variant, got.reason) == (None, Reason.STICKY_UNAVAILABLE)
    assert not got.in_experiment
    assert service.assign_many(EID, ["a", "b"]) == [got, got]
    assert service.assign_all("user-2")[EID] == got
    assert service.sticky_failures == 4
    assert "sticky store failed" in caplog.text


def test_non_sticky_experiments_never_ask_the_store() -> None:
    """Without `sticky` the answers are the plain hash's, and a broken store is not touched."""
    broken = ExperimentAssignmentService([experiment()], sticky=BrokenStore(RuntimeError("x")))
    plain = ExperimentAssignmentService([experiment()])
    assert [broken.assign(u, EID) for u in UNITS] == [plain.assign(u, EID) for u in UNITS]
    assert broken.assign_many(EID, UNITS) == plain.assign_many(EID, UNITS)
    assert broken.sticky_failures == 0


def test_a_sticky_experiment_first_assigns_as_the_hash_does() -> None:
    """Stickiness changes nothing until the definition changes (same first answers)."""
    service = ExperimentAssignmentService([sticky()])
    plain = ExperimentAssignmentService([sticky()], sticky=None)
    assert isinstance(service.sticky, MemoryStickyStore)
    hashed = ExperimentAssignmentService([experiment()])
    assert [service.assign(u, EID).variant for u in UNITS] == [
        hashed.assign(u, EID).variant for u in UNITS
    ]
    assert plain.assign_many(EID, UNITS) == hashed.assign_many(EID, UNITS)


def test_units_outside_traffic_are_not_kept() -> None:
    store = MemoryStickyStore()
    service = ExperimentAssignmentService([sticky(trafficAllocation=0.1)], sticky=store)
    outside = [u for u in UNITS if service.assign(u, EID).reason is Reason.OUTSIDE_TRAFFIC]
    assert outside and all(store.get(EID, u) is None for u in outside)
    service.update([sticky(trafficAllocation=1.0)])
    assert {service.assign(u, EID).reason for u in outside} == {Reason.ASSIGNED}


@pytest.mark.parametrize("kind", ["logged", "direct"])
def test_duckdb_store_keeps_the_first_variant_and_survives_reopening(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "sticky.duckdb"
    con = duckdb.connect(str(path))
    store = open_store(kind, con, tmp_path)
    assert store.get(EID, "u1") is None
    assert store.put(EID, "u1", "control") == "control"
    assert store.put(EID, "u1", "variant-a") == "control"  # insert-if-absent
    assert store.put("other", "u1", "variant-a") == "variant-a"
    close(store)
    con.close()
    again = open_store(kind, duckdb.connect(str(path)), tmp_path)
    assert again.get(EID, "u1") == "control"
    assert again.count(EID) == 1
    close(again)


@pytest.mark.parametrize("kind", ["logged", "direct"])
def test_duckdb_store_racing_puts_agree(tmp_path: Path, kind: str) -> None:
    """Threads putting different variants for the same units all get the one that was kept."""
    store = open_store(kind, duckdb.connect(str(tmp_path / "s.duckdb")), tmp_path)
    answers: list[list[str]] = []

    def worker(variant: str) -> None:
        answers.append([store.put(EID, f"u{i}", variant) for i in range(200)])

    threads = [threading.Thread(target=worker, args=(v,)) for v in ("a", "b", "c", "d")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a == answers[0] for a in answers)
    assert [store.get(EID, f"u{i}") for i in range(200)] == answers[0]
    close(store)


def test_duckdb_store_failure_is_a_sticky_store_error(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    store = DirectStickyStore(con)
    service = ExperimentAssignmentService([sticky()], sticky=store)
    kept = service.assign("u0", EID)
    con.close()
    with pytest.raises(StickyStoreError):
        store.get(EID, "u1")
    with pytest.raises(StickyStoreError):
        store.put(EID, "u1", "control")
    assert service.assign("u1", EID).reason is Reason.STICKY_UNAVAILABLE
    # A variant already kept never changes: the store still knows it from its cache.
    assert service.assign("u0", EID) == kept
