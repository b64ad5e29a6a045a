"""End to end: a tenant-randomised experiment's events -> DuckDBStore -> run_look.

Accounts are randomised by the assignment service (``hashKey: accountId``); users within an
account share an account effect (intra-cluster correlation). The look must analyse clusters
(SRM and the design block count accounts), and a revenue guardrail breached at the tenant
level rolls the experiment back as it would for any experiment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.evaluation import run_look
from splitlab.evaluation.look import results_view
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event

from .conftest import T0, register

ACCOUNTS = 400


def _definition() -> dict[str, Any]:
    return {
        "experimentId": "exp-pricing",
        "status": "running",
        "variants": ["control", "new-price"],
        "assignment": {"hashKey": "accountId", "salt": "pricing"},
        "design": {"type": "cluster", "analysisUnit": "userId"},
        "metrics": {
            "primary": {"name": "upgrade", "type": "conversion"},
            "guardrails": [{"name": "revenue", "type": "continuous", "direction": "increase",
                            "threshold": 0.05, "thresholdType": "relative",
                            "action": "rollback"}],
        },
        "evaluation": {"maxPeeks": 2, "minSampleSize": 100, "sequential": {"method": "none"}},
        "rollback": {"enabled": True, "conditions": ["guardrail_breach"]},
    }  # fmt: skip


def _traffic(store: DuckDBStore, exp: Any, rng: np.random.Generator) -> dict[str, int]:
    """Users within accounts; the new price loses 30% of revenue per user."""
    service = ExperimentAssignmentService([exp])
    events: list[Event] = []
    base = int(T0.timestamp() * 1000)
    per_arm: dict[str, int] = {}
    for a in range(ACCOUNTS):
        account = f"acct-{a}"
        variant = service.assign(None, exp.id, {"accountId": account}).variant
        assert variant is not None
        per_arm[variant] = per_arm.get(variant, 0) + 1
        account_rate = float(rng.beta(2, 8))
        account_spend = float(rng.gamma(2.0, 50.0))
        for u in range(int(rng.integers(2, 9))):
            user = f"{account}-u{u}"
            ts = base + int(rng.integers(0, 3_600_000))
            events.append(
                Event(f"x-{user}", "exposure", exp.id, variant, user, ts, cluster_id=account)
            )
            if rng.random() < account_rate:
                events.append(Event(f"c-{user}", "metric", exp.id, variant, user, ts + 1,
                                    "upgrade", 1.0, cluster_id=account))  # fmt: skip
            spend = account_spend * float(rng.gamma(4.0, 0.25))
            if variant == "new-price":
                spend *= 0.7
            events.append(Event(f"r-{user}", "metric", exp.id, variant, user, ts + 2,
                                "revenue", spend, cluster_id=account))  # fmt: skip
    store.ingest(events)
    return per_arm


def test_a_cluster_look_counts_accounts_and_rolls_back_on_a_tenant_guardrail(
    store: DuckDBStore,
) -> None:
    registry = register(store, _definition())
    exp = registry.get("exp-pricing")
    per_arm = _traffic(store, exp, np.random.default_rng(11))
    cutoff = T0 + timedelta(hours=2)
    record = run_look(store, registry, "exp-pricing", cutoff=cutoff, now=cutoff)
    view = results_view(record)
    design = view["design"]
    assert design["type"] == "cluster" and design["clusterKey"] == "accountId"
    assert design["analysisUnit"] == "userId"
    assert design["clusters"] == per_arm  # SRM and the design block count accounts
    assert view["srm"]["counts"] == per_arm
    assert design["smallSampleCorrection"] == "CR1"
    assert sum(design["analysisUnits"].values()) > 2 * ACCOUNTS
    revenue = view["metrics"][1]["comparisons"][0]
    assert revenue["absolute"]["upper"] < 0
    assert record.action == "rollback"
    assert registry.get("exp-pricing").status.value == "rolled_back"
