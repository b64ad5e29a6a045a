"""`splitlab experiments list` and `splitlab evaluate` name the design; --json passes it through.

A real database file with the demo's cluster and switchback definitions, two days of the
demo's own simulated traffic for them (through the collector's validation), and real looks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import msgspec
import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.assignment import ExperimentAssignmentService
from splitlab.cli.main import cli
from splitlab.demo.designed import dispatch_events, dispatch_world, pricing_events
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import validate_batch

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PRICING = "exp-pricing-annual-plan"
DISPATCH = "exp-dispatch-batching"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The two design experiments registered, with two days of the demo's traffic."""
    folder = tmp_path_factory.mktemp("designs")
    files = []
    for name in (PRICING, DISPATCH, "exp-search-ranking-v2"):
        path = folder / f"{name}.json"
        path.write_text(
            resources.files("splitlab.demo").joinpath(f"{name}.json").read_text("utf-8")
        )
        files.append(str(path))
    db_path = str(folder / "splitlab.duckdb")
    created = _run("experiments", "create", *files, "--db", db_path)
    assert created.exit_code == 0, created.output
    rng = np.random.default_rng(3)
    start_ms = int(START.timestamp() * 1000)
    with DuckDBStore(db_path) as store:
        experiments = Registry.for_store(store).experiments()
        service = ExperimentAssignmentService(experiments)
        known = {e.id: set(e.variant_names) for e in experiments}
        world = dispatch_world(start_ms, 2, rng)
        for day in range(2):
            wire = pricing_events(day, start_ms + day * 86_400_000, 0.5, service, rng)
            wire += dispatch_events(day, world, 0.5, service, rng)
            for k in range(0, len(wire), 1000):  # the collector's batch size
                events, rejected = validate_batch(msgspec.json.encode(wire[k : k + 1000]), known)
                assert rejected == []
                store.ingest(events)
    return db_path


def test_experiments_list_names_the_design(db: str) -> None:
    """The text list ends each line with the design; --json carries the design key."""
    lines = dict(
        (line.split("\t")[0], line.split("\t")[-1])
        for line in _run("experiments", "list", "--db", db).output.splitlines()
    )
    assert lines == {
        PRICING: "cluster accountId -> userId",
        DISPATCH: "switchback region every 1 h (burn-in 10 min)",
        "exp-search-ranking-v2": "classic",
    }
    listed = {e["experimentId"]: e for e in json.loads(
        _run("experiments", "list", "--db", db, "--json").output)}  # fmt: skip
    pricing = listed[PRICING]["design"]
    assert (pricing["type"], pricing["analysisUnit"]) == ("cluster", "userId")
    assert listed[DISPATCH]["design"]["periodSeconds"] == 3600
    assert listed["exp-search-ranking-v2"]["design"] is None


def test_evaluate_prints_the_cluster_design_and_json_passes_it_through(db: str) -> None:
    """The text output has the design line with the look's own cluster counts; --show --json
    of the same look has the same counts under "design"."""
    cutoff = (START + timedelta(days=2)).isoformat()
    result = _run("evaluate", PRICING, "--db", db, "--cutoff", cutoff, "--peek")
    assert result.exit_code == 0, result.output
    shown = _run("evaluate", PRICING, "--db", db, "--show", "1", "--json")
    design = json.loads(shown.output)["design"]
    assert design["type"] == "cluster" and design["clusterKey"] == "accountId"
    clusters = design["clusters"]
    assert clusters["control"] > 0 and clusters["annual-discount"] > 0
    text = " ".join(result.output.split())
    assert "Design: cluster (accountId randomised, metrics per userId)" in text
    assert f"clusters control {clusters['control']:,}, annual-discount" in text
    assert "small-sample correction CR1" in text


def test_evaluate_of_a_classic_experiment_has_no_design(db: str) -> None:
    """A classic experiment's look has no design line and no design key."""
    cutoff = (START + timedelta(days=2)).isoformat()
    result = _run("evaluate", "exp-search-ranking-v2", "--db", db, "--cutoff", cutoff, "--peek")
    assert "Design:" not in result.output
    shown = _run("evaluate", "exp-search-ranking-v2", "--db", db, "--show", "1", "--json")
    assert "design" not in json.loads(shown.output)


def test_evaluate_prints_the_switchback_design_and_json_passes_it_through(db: str) -> None:
    """The switchback's look names its unit, period, burn-in, cells per arm and estimator in
    text, and the same block is the results' design key in --json."""
    cutoff = (START + timedelta(days=2)).isoformat()
    result = _run("evaluate", DISPATCH, "--db", db, "--cutoff", cutoff, "--peek")
    assert result.exit_code == 0, result.output
    shown = _run("evaluate", DISPATCH, "--db", db, "--show", "1", "--json")
    design = json.loads(shown.output)["design"]
    assert design["type"] == "switchback" and design["unit"] == "region"
    assert (design["units"], design["periods"]) == (8, 48)
    assert sum(design["cells"].values()) == 8 * 48
    text = " ".join(result.output.split())
    assert "Design: switchback (region, 1 h periods, burn-in 10 min)" in text
    assert f"cells control {design['cells']['control']:,}, batched" in text
    assert "over 8 unit(s) x 48 periods; estimator horvitz_thompson" in text
