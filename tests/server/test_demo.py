"""`splitlab demo --no-serve`: the classic experiments end as the story says, and the design
experiments send their cluster ids through the real assignment and collector paths."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.assignment import ExperimentAssignmentService
from splitlab.cli.main import cli
from splitlab.config import Status
from splitlab.demo.designed import DISPATCH, PRICING, REGIONS
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`splitlab demo --no-serve` at the quick scale, in a kept --db file."""
    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    result = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--db", str(db), "--scale", "0.3", "--days", "6"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"Admin key: sl_admin_[0-9a-f]{12}_", result.output)
    assert re.search(r"exp-orders-db-migration\s+│\s+rolled_back\s+│\s+canary step 25 %",
                     result.output)  # fmt: skip
    return db


def test_the_demo_sets_up_three_experiments_that_end_as_intended(db: Path) -> None:
    """The article's experiment proposes shipping variant-a (a fall in cart abandonment counts
    as good), the guardrail test is rolled back (after which everyone gets control), and the
    A/A stops with no effect."""
    store = DuckDBStore(db)
    try:
        registry = Registry.for_store(store)
        final = {
            e.id: (e.status.value, registry.looks(e.id, include_peeks=False)[-1])
            for e in registry.experiments()
            if not (e.is_canary or e.is_bandit)  # no looks: tests/server/test_demo_adaptive.py
        }
        status, look = final["exp-checkout-flow-v3"]
        assert (status, look.action, look.variant, look.number) == (
            "running",
            "ship",
            "variant-a",
            5,
        )
        wanted = {m["name"]: m["wantedDirection"] for m in look.to_dict()["results"]["metrics"]}
        assert wanted["cart_abandonment_rate"] == "decrease"
        assert wanted["checkout_completion_rate"] == "increase"
        status, look = final["exp-search-ranking-v2"]
        assert (status, look.action) == ("rolled_back", "rollback")
        changes = registry.changes("exp-search-ranking-v2")
        [rollback] = [c for c in changes if c.to_value == "rolled_back"]
        assert rollback.look == look.number
        status, look = final["exp-homepage-copy-aa"]
        assert (status, look.action) == ("stopped", "stop")
        service = ExperimentAssignmentService(registry.experiments())
        after = {service.assign(f"u{i}", "exp-search-ranking-v2").variant for i in range(50)}
        assert after == {"control"}
    finally:
        store.close()


def test_the_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    """The demo needs a fresh store: an existing --db file is a clean error, not a traceback."""
    db = tmp_path / "taken.duckdb"
    db.write_bytes(b"")
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--db", str(db)])
    assert result.exit_code != 0
    assert "needs a fresh file" in result.output
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_the_design_experiments_send_cluster_ids_through_the_real_paths(db: Path) -> None:
    """Every event of the cluster and switchback experiments carries its clusterId: the
    account of the user (all users of an account in one variant), or the region, whose
    variant in each hour is the one the assignment service gives that cell; both have looks
    whose results carry their design block."""
    store = DuckDBStore(db)
    try:
        con = store.connection
        for table in ("exposures", "metric_events"):
            missing = con.execute(
                f"SELECT count(*) FROM {table} WHERE experiment_id IN (?, ?) "
                "AND cluster_id IS NULL",
                [PRICING, DISPATCH],
            ).fetchone()
            assert missing == (0,), table
        users = con.execute(
            "SELECT cluster_id, unit_id, variant FROM exposures WHERE experiment_id = ?",
            [PRICING],
        ).fetchall()
        assert len(users) > 500
        assert all(unit.startswith(f"{account}-u") for account, unit, _ in users)
        arms: dict[str, set[str]] = {}
        for account, _, variant in users:
            arms.setdefault(account, set()).add(variant)
        assert all(len(v) == 1 for v in arms.values()), "one variant per account"
        assert len(users) > 2 * len(arms), "accounts have several users"
        cells = con.execute(
            "SELECT cluster_id, ts // 3600000, min(variant), max(variant) FROM exposures "
            "WHERE experiment_id = ? GROUP BY 1, 2",
            [DISPATCH],
        ).fetchall()
        registry = Registry.for_store(store)
        service = ExperimentAssignmentService(registry.experiments())
        running = service.experiment(DISPATCH).model_copy(update={"status": Status.RUNNING})
        service.update([running])
        assert {region for region, *_ in cells} == set(REGIONS)
        for region, hour, low, high in cells:
            assert low == high, (region, hour)
            expected = service.assign(region, DISPATCH, {"region": region},
                                      at=int(hour) * 3_600_000)  # fmt: skip
            assert expected.variant == low, (region, hour)
        for experiment_id, kind in ((PRICING, "cluster"), (DISPATCH, "switchback")):
            looks = registry.looks(experiment_id, include_peeks=False)
            assert looks, experiment_id
            assert looks[-1].to_dict()["results"]["design"]["type"] == kind
    finally:
        store.close()
