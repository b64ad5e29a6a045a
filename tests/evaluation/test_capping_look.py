"""A percentile cap is provisional until the first planned look at the minimum sample size,
fixed there, recorded in the look document and reused (and replayed) at every later look."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.evaluation import replay_look, run_look
from splitlab.evaluation.look import results_view
from splitlab.server.dashboard.looks import metric_rows
from splitlab.store.duckdb_store import DuckDBStore
from tests.store.capping_data import DAY, T0, Units, capped_experiment, heavy_units, unit_events

from .conftest import register


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def test_cap_is_provisional_then_fixed_then_reused(store: DuckDBStore) -> None:
    rng = np.random.default_rng(17)
    exp = capped_experiment(
        {"type": "percentile", "percentile": 90}, cuped=True, min_sample_size=100,
        evaluation={"maxPeeks": 5},
    )  # fmt: skip
    registry = register(store, exp.to_wire())
    batches = [heavy_units(rng, 120), heavy_units(rng, 300)]
    huge = heavy_units(rng, 300)
    huge.y[:] = huge.y * 50 + 1000  # later units far above the fixed cap
    batches.append(huge)
    seen: list[Units] = []
    documents = []
    start = 0
    for k, units in enumerate(batches):
        t0 = T0 + k * DAY
        store.ingest(unit_events(units, start=start, t0=t0))
        start += len(units.y)
        seen.append(units)
        cutoff = _at(t0 + DAY // 2)
        if k == 0:  # a peek before the minimum sample: provisional, fixes nothing
            peek = run_look(store, registry, exp.id, cutoff=cutoff, now=cutoff, peek=True)
            assert peek.to_dict()["capping"][0]["provisional"] is True
        record = run_look(store, registry, exp.id, cutoff=cutoff, now=cutoff)
        assert replay_look(record) == record.document  # the recorded cap replays byte for byte
        documents.append(record.to_dict())

    pooled_y = np.concatenate([u.y for u in seen[:2]])
    first, second, third = (d["capping"] for d in documents)
    # Look 1 (about 60 units an arm < 100): computed afresh, provisional.
    assert first[0]["provisional"] is True and first[0]["fixedAtLook"] is None
    assert first[0]["value"] == np.quantile(seen[0].y, 0.9, method="inverted_cdf")
    # Look 2 reaches 100 an arm: fixed there, at the pooled 90th percentile of that look.
    assert second[0]["fixedAtLook"] == 2 and second[0]["provisional"] is False
    assert second[0]["value"] == np.quantile(pooled_y, 0.9, method="inverted_cdf")
    assert second[1]["target"] == "covariate" and second[1]["fixedAtLook"] == 2
    # Look 3 reuses the cap of look 2, though the new units would move a fresh one.
    all_y = np.concatenate([u.y for u in seen])
    assert third[0]["value"] == second[0]["value"]
    assert np.quantile(all_y, 0.9, method="inverted_cdf") > second[0]["value"]
    assert third[0]["fixedAtLook"] == 2
    arms = np.concatenate([u.arm for u in seen])
    assert third[0]["touched"] == {
        "control": int((all_y[arms == 0] > second[0]["value"]).sum()),
        "treatment": int((all_y[arms == 1] > second[0]["value"]).sum()),
    }
    reasons = documents[2]["decision"]["reasons"]
    assert any("(90th percentile, fixed at look 2)" in r and "units touched" in r for r in reasons)
    view = results_view(registry.looks(exp.id, include_peeks=False)[-1])
    assert view["capping"] == third
    # The dashboard's metric row carries one line per cap.
    touched = sum(third[0]["touched"].values())
    row = metric_rows(documents[2])[0]
    assert row["capping"][0] == (
        f"capped at {third[0]['value']:,.6g} (90th percentile, fixed at look 2): "
        f"{touched:,} units touched"
    )


def test_cli_evaluate_prints_the_cap(tmp_path: Path) -> None:
    """`splitlab evaluate` names each cap among the decision's reasons; --json has `capping`."""
    raw = capped_experiment({"type": "fixed", "value": 7.5}, min_sample_size=10).to_wire()
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(raw))
    db = str(tmp_path / "splitlab.duckdb")
    assert _run("experiments", "create", str(path), "--db", db).exit_code == 0
    units = heavy_units(np.random.default_rng(4), 200)
    with DuckDBStore(db) as store:
        store.ingest(unit_events(units))
    cutoff = _at(T0 + DAY).isoformat()
    text = _run("evaluate", "cap", "--db", db, "--cutoff", cutoff, "--peek").output
    touched = int((units.y > 7.5).sum())
    assert f"revenue: capped at 7.5 (fixed): {touched:,} units touched" in text
    shown = json.loads(
        _run("evaluate", "cap", "--db", db, "--cutoff", cutoff, "--peek", "--json").output
    )
    assert shown["capping"][0]["value"] == 7.5
