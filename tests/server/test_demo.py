"""`splitlab demo --no-serve`: the three experiments end as the story says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.assignment import ExperimentAssignmentService
from splitlab.cli.main import cli
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry

pytestmark = pytest.mark.slow


def test_the_demo_sets_up_three_experiments_that_end_as_intended(tmp_path: Path) -> None:
    """The article's experiment proposes shipping variant-a (a fall in cart abandonment counts
    as good), the guardrail test is rolled back (after which everyone gets control), and the
    A/A stops with no effect."""
    db = tmp_path / "demo.duckdb"
    result = CliRunner().invoke(
        cli, ["demo", "--no-serve", "--db", str(db), "--scale", "0.3", "--days", "6"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"Admin key: sl_admin_[0-9a-f]{12}_", result.output)
    store = DuckDBStore(db)
    try:
        registry = Registry.for_store(store)
        final = {
            e.id: (e.status.value, registry.looks(e.id, include_peeks=False)[-1])
            for e in registry.experiments()
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
