"""A bandit end to end: events in, updates on a controlled clock, weights served, replay.

Real components throughout: the DuckDB store and registry, the server context with its
DuckDB sticky store and assignment service, the HTTP API and the CLI.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.evaluation import run_look
from splitlab.evaluation.bandit import BanditUpdater, replay, updates
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.stats.errors import StatsError
from splitlab.store import DuckDBStore
from splitlab.store.sticky import DuckDBStickyStore
from splitlab.tracking.events import Event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RATES = {"a": 0.05, "b": 0.10, "c": 0.30}


def bandit_definition(**design: Any) -> dict[str, Any]:
    return {
        "experimentId": "exp-bandit",
        "status": "running",
        "variants": ["a", "b", "c"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
        "metrics": {"primary": {"name": "buy", "type": "conversion", "windowHours": 1}},
        "design": {"type": "bandit", "updateIntervalMinutes": 60, "draws": 4000, **design},
    }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def serve_period(
    ctx: ServerContext, start: datetime, units: list[str], rng: np.random.Generator
) -> dict[str, str]:
    """Assign `units` through the server's service during the hour from `start`, and send
    their exposures and conversions (within 30 minutes)."""
    events: list[Event] = []
    got: dict[str, str] = {}
    for unit in units:
        a = ctx.view.service.assign(unit, "exp-bandit")
        assert a.in_experiment and a.variant is not None
        got[unit] = a.variant
        ts = _ms(start) + int(rng.integers(0, 3_600_000))
        events.append(Event(f"x-{unit}", "exposure", "exp-bandit", a.variant, unit, ts))
        if rng.random() < RATES[a.variant]:
            events.append(
                Event(f"m-{unit}", "metric", "exp-bandit", a.variant, unit,
                      ts + int(rng.integers(0, 1_800_000)), metric="buy", value=1.0)
            )  # fmt: skip
    ctx.store.ingest(events)
    return got


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    store = DuckDBStore(tmp_path / "splitlab.duckdb", load_interval_s=0.05)
    try:
        context = ServerContext.open(store)
        context.registry.create(load_experiment(bandit_definition()), at=T0)
        context.refresh()
        yield context
    finally:
        store.close()


def test_updates_on_a_clock_move_traffic_keep_units_and_replay(ctx: ServerContext) -> None:
    rng = np.random.default_rng(3)
    clock = Clock(T0)
    updater = BanditUpdater(ctx.store, ctx.registry, clock=clock)
    assert isinstance(ctx.sticky, DuckDBStickyStore)
    seen: dict[str, str] = {}
    for period in range(5):
        start = T0 + timedelta(hours=period)
        new = [f"p{period}-{i}" for i in range(240)]
        seen.update(serve_period(ctx, start, new, rng))
        clock.now = start + timedelta(minutes=59)
        assert updater.run_once() == []  # not due before the interval
        clock.now = start + timedelta(hours=1)
        (result,) = updater.run_once()
        assert result.version == period + 1
        ctx.refresh()
        assert ctx.view.service.experiment("exp-bandit").design.weights_version == period + 1  # type: ignore[union-attr]
        # Every unit served so far keeps its arm under the new weights.
        again = ctx.view.service.assign_many("exp-bandit", list(seen))
        assert [a.variant for a in again] == list(seen.values())
    log = updates(ctx.registry, "exp-bandit")
    assert [c.details["version"] for c in log] == [1, 2, 3, 4, 5]  # type: ignore[index]
    first, last = log[0].details, log[-1].details
    assert first is not None and last is not None
    assert (
        first["burnIn"] and list(first["weights"].values()) == [pytest.approx(1 / 3, abs=1e-5)] * 3
    )
    assert len(last["inputs"]) == 5 and last["boundaries"] == [_ms(c.at) for c in log[:-1]]
    # Traffic moved to the best arm, weights sum to 1, the floor holds.
    weights = last["weights"]
    assert max(weights, key=weights.get) == "c" and sum(weights.values()) == pytest.approx(1)
    assert min(weights.values()) >= last["epsilon"] / 3 - 1e-6
    # Replay from the recorded inputs and seed: the same P(best) and weights.
    replayed = replay(last)
    assert replayed.p_best == {a: v["pBest"] for a, v in last["arms"].items()}
    assert {a: round(w, 6) for a, w in replayed.weights.items()} == pytest.approx(weights, abs=2e-6)
    # The served config carries the new weights.
    served = {v.name: v.weight for v in ctx.view.experiments["exp-bandit"].variants}
    assert served == weights
    # No SRM: units arrived as the weights said.
    assert last["srm"]["detected"] is False
    # The classic look refuses a bandit and points to the readout.
    with pytest.raises(StatsError, match="bandit status exp-bandit"):
        run_look(ctx.store, ctx.registry, "exp-bandit", now=clock.now)


def test_api_and_cli(ctx: ServerContext, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    clock = Clock(T0 + timedelta(hours=1))
    serve_period(ctx, T0, [f"u{i}" for i in range(150)], rng)
    BanditUpdater(ctx.store, ctx.registry, clock=clock).run_once()
    ctx.registry.create(
        load_experiment({**bandit_definition(), "experimentId": "plain", "design": None}), at=T0
    )
    admin = ctx.keys.create("admin", "tests").secret
    headers = {"Authorization": f"Bearer {admin}"}
    with TestClient(create_app(ctx), base_url="http://testserver") as client:
        body = client.get("/v1/experiments/exp-bandit/bandit", headers=headers).json()
        refused = client.get("/v1/experiments/plain/bandit", headers=headers)
    assert set(body) == {"experimentId", "status", "weightsVersion", "updates", "readout"}
    assert body["weightsVersion"] == 1
    (update,) = body["updates"]
    assert set(update) == {"version", "at", "cutoff", "seed", "epsilon", "burnIn", "arms", "srm"}
    assert set(update["arms"]["a"]) == {"units", "rewardMean", "posterior", "pBest", "weight"}
    assert set(update["srm"]) == {"pValue", "detected", "counts", "expected"}
    assert set(body["readout"]) == {"method", "comparisons", "regret", "note"}
    assert [c["arm"] for c in body["readout"]["comparisons"]] == ["b", "c"]
    assert refused.status_code == 409 and "not a bandit" in refused.json()["error"]["message"]


def test_cli_status_and_update(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")
    path = tmp_path / "bandit.json"
    path.write_text(json.dumps(bandit_definition()))
    runner = CliRunner()
    assert runner.invoke(cli, ["experiments", "create", str(path), "--db", db]).exit_code == 0
    with DuckDBStore(db) as store:
        events = [
            Event(f"x{i}", "exposure", "exp-bandit", "abc"[i % 3], f"u{i}", _ms(T0) + i)
            for i in range(300)
        ]
        store.ingest(events)
    done = runner.invoke(cli, ["bandit", "update", "exp-bandit", "--db", db])
    assert done.exit_code == 0, done.output
    assert "weights version 1" in done.output
    shown = runner.invoke(cli, ["bandit", "status", "exp-bandit", "--db", db, "--json"])
    assert json.loads(shown.output)["weightsVersion"] == 1
    text = runner.invoke(cli, ["bandit", "status", "exp-bandit", "--db", db])
    assert "optimises the reward" in text.output and "batched OLS" in text.output


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"variants": ["a"]}, ["$.variants", "at least 2 arms"]),
        (
            {"metrics": {"primary": {"name": "buy", "windowHours": 1},
                         "guardrails": [{"name": "err", "threshold": 0.1, "windowHours": 1}]},
             "design": {"type": "bandit", "reward": "err"}},
            ["$.design.reward", "guardrail"],
        ),
        ({"metrics": {"primary": {"name": "buy"}}}, ["windowHours", "window in hours"]),
    ],
)  # fmt: skip
def test_validate_explains_bad_bandits(
    tmp_path: Path, change: dict[str, Any], words: list[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**bandit_definition(), **change}))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output


def test_the_cli_scheduler_updates_a_due_bandit(tmp_path: Path) -> None:
    """`splitlab scheduler` (for deployments without `splitlab serve`) runs the bandit
    updates too: a bandit is due `updateIntervalMinutes` after its launch, not before."""
    db = str(tmp_path / "sched.duckdb")
    path = tmp_path / "bandit.json"
    path.write_text(json.dumps(bandit_definition()))
    runner = CliRunner()
    started = datetime.now(UTC)
    assert runner.invoke(cli, ["experiments", "create", str(path), "--db", db]).exit_code == 0
    launched = datetime.now(UTC)  # the launch is between `started` and this
    early = (started + timedelta(minutes=30)).isoformat()
    due = (launched + timedelta(minutes=61)).isoformat()
    before = runner.invoke(cli, ["scheduler", "--db", db, "--once", "--now", early])
    assert before.exit_code == 0, before.output
    assert "bandit" not in before.output
    after = runner.invoke(cli, ["scheduler", "--db", db, "--once", "--now", due])
    assert after.exit_code == 0, after.output
    assert "exp-bandit: bandit weights version 1" in after.output
    shown = runner.invoke(cli, ["bandit", "status", "exp-bandit", "--db", db, "--json"])
    assert json.loads(shown.output)["weightsVersion"] == 1
