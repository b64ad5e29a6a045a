"""`splitlab canary status|wait` exit codes through the real CLI entry point, and the
`/v1/experiments/{id}/canary` routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from splitlab.config import load_experiment
from splitlab.evaluation.lifecycle import register
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.server.run import BackgroundServer
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from tests.canary.canary_helpers import EXPERIMENT_ID, T0
from tests.canary.simulation import simulate


def run(*args: str) -> Result:
    from splitlab.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def database(path: Path, outcome: str) -> Path:
    """A database file with one canary that was promoted, rolled back, or is just launched,
    and a classic experiment."""
    store = DuckDBStore(path, load_interval_s=0.02)
    registry = Registry.for_store(store)
    if outcome == "running":
        from tests.canary.canary_helpers import canary_experiment

        register(registry, canary_experiment(), by="test", reason="launch", now=T0)
    else:
        slow = (lambda a: a >= 0.5) if outcome == "rolled_back" else (lambda _: False)
        simulate(store, registry, seed=5, slow_at=slow, max_intervals=30)
    classic = {"experimentId": "exp-classic", "variants": ["a", "b"],
               "assignment": {"salt": "c"}, "metrics": {"primary": {"name": "m"}}}  # fmt: skip
    register(registry, load_experiment(classic), by="test", reason="x", now=T0)
    store.close()
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("canary_cli")
    return {o: database(tmp / f"{o}.duckdb", o) for o in ("shipped", "rolled_back", "running")}


@pytest.mark.parametrize(
    ("outcome", "code"), [("shipped", 0), ("rolled_back", 12), ("running", 14)]
)
def test_wait_exit_codes(files: dict[str, Path], outcome: str, code: int) -> None:
    result = run("canary", "wait", EXPERIMENT_ID, "--db", str(files[outcome]), "--timeout", "0")
    assert result.exit_code == code, result.output
    assert outcome.split("_")[0] in result.output


def test_wait_refuses_bad_input(files: dict[str, Path], tmp_path: Path) -> None:
    db = str(files["shipped"])
    assert run("canary", "wait", EXPERIMENT_ID).exit_code == 2  # neither --db nor --server
    assert run("canary", "wait", EXPERIMENT_ID, "--db", db, "--timeout", "-1").exit_code == 2
    unknown = run("canary", "wait", "no-such", "--db", db)
    assert unknown.exit_code == 3 and "no-such" in unknown.output
    classic = run("canary", "status", "exp-classic", "--db", db)
    assert classic.exit_code == 3 and "not a canary" in classic.output
    missing = run("canary", "status", EXPERIMENT_ID, "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 3


def test_status_json_is_the_canary_state(files: dict[str, Path]) -> None:
    result = run("canary", "status", EXPERIMENT_ID, "--db", str(files["rolled_back"]), "--json")
    assert result.exit_code == 12  # status exits as wait --timeout 0 would
    view = json.loads(result.output)
    assert view["status"] == "rolled_back" and view["step"]["index"] == 1
    assert [s["outcome"] for s in view["ramp"]] == ["passed", "failed", "pending", "pending"]
    assert view["ramp"][0]["endedAt"] == view["ramp"][1]["startedAt"] is not None
    assert view["judgments"][-1]["action"] == "rollback"
    assert set(view["distributions"]) == {"latency", "latency_shift"}
    text = run("canary", "status", EXPERIMENT_ID, "--db", str(files["shipped"]))
    assert text.exit_code == 0 and "promoted" in text.output
    running = run("canary", "status", EXPERIMENT_ID, "--db", str(files["running"]))
    assert running.exit_code == 14, running.output


def _api(path: Path) -> tuple[ServerContext, str]:
    ctx = ServerContext.open(DuckDBStore(path, load_interval_s=0.02))
    return ctx, ctx.keys.create("admin", "tests").secret


def test_api_canary_state_and_errors(files: dict[str, Path]) -> None:
    ctx, key = _api(files["shipped"])
    auth = {"Authorization": f"Bearer {key}"}
    try:
        with TestClient(create_app(ctx), base_url="http://testserver") as client:
            body: dict[str, Any] = client.get(f"/v1/experiments/{EXPERIMENT_ID}/canary",
                                              headers=auth).json()  # fmt: skip
            assert body["status"] == "shipped" and body["ramp"][-1]["outcome"] == "promoted"
            assert set(body) == {"experimentId", "status", "intervalMinutes", "step", "ramp",
                                 "judgments", "distributions"}  # fmt: skip
            conflict = client.get("/v1/experiments/exp-classic/canary", headers=auth)
            assert conflict.status_code == 409
            assert conflict.json()["error"]["code"] == "not_canary"
            assert client.get(f"/v1/experiments/{EXPERIMENT_ID}/canary").status_code == 401
            judged = client.post(f"/v1/experiments/{EXPERIMENT_ID}/canary/judge", headers=auth)
            assert judged.status_code == 409 and judged.json()["error"]["code"] == "not_running"
    finally:
        ctx.store.close()


def test_wait_against_a_server(files: dict[str, Path]) -> None:
    ctx, key = _api(files["rolled_back"])
    try:
        with BackgroundServer(ctx) as server:
            result = run("canary", "wait", EXPERIMENT_ID, "--server", server.url, "--key", key)
            assert result.exit_code == 12, result.output
            bad = run("canary", "wait", EXPERIMENT_ID, "--server", server.url, "--key", "nope")
            assert bad.exit_code == 3 and "401" in bad.output
    finally:
        ctx.store.close()


def test_api_judge_now_starts_then_judges_a_running_canary(tmp_path: Path) -> None:
    ctx, key = _api(database(tmp_path / "live.duckdb", "running"))
    auth = {"Authorization": f"Bearer {key}"}
    path = f"/v1/experiments/{EXPERIMENT_ID}/canary"
    try:
        with TestClient(create_app(ctx), base_url="http://testserver") as client:
            before = client.get(path, headers=auth).json()
            assert before["step"]["startedAt"] is None and before["ramp"][0]["outcome"] == "current"
            started = client.post(f"{path}/judge", headers=auth).json()
            assert started["step"]["startedAt"] is not None and started["judgments"] == []
            judged = client.post(f"{path}/judge", headers=auth).json()
            (only,) = judged["judgments"]
            assert only["action"] == "wait" and only["verdict"] == "marginal"
            assert {m["name"] for m in only["metrics"]} == {"errors", "latency", "latency_shift"}
            assert judged["status"] == "running"
    finally:
        ctx.store.close()


def test_the_servers_scheduler_thread_runs_the_canary_monitor(tmp_path: Path) -> None:
    from splitlab.server.run import SchedulerThread

    ctx, _ = _api(database(tmp_path / "sched.duckdb", "running"))
    try:
        thread = SchedulerThread(ctx)
        assert thread._monitors()  # the launch: step 0 starts
        assert ctx.registry.get(EXPERIMENT_ID).design.step_started_at is not None  # type: ignore[union-attr]
    finally:
        ctx.store.close()


def test_the_cli_scheduler_judges_canaries(tmp_path: Path) -> None:
    db = database(tmp_path / "cli-sched.duckdb", "running")
    once = run("scheduler", "--db", str(db), "--once", "--now", "2026-03-02T09:00:30Z")
    assert once.exit_code == 0 and f"{EXPERIMENT_ID}: canary step 0 -> start" in once.output
    later = run("scheduler", "--db", str(db), "--once", "--now", "2026-03-02T09:05:31Z")
    assert f"{EXPERIMENT_ID}: canary step 0 -> wait" in later.output


def test_a_canary_started_late_is_judged_in_the_same_pass(tmp_path: Path) -> None:
    """A cron running `scheduler --once` after an interval has already closed since the
    launch starts step 0 AND judges that interval in one pass (no interval is lost)."""
    db = database(tmp_path / "late.duckdb", "running")
    once = run("scheduler", "--db", str(db), "--once", "--now", "2026-03-02T09:05:31Z")
    assert once.exit_code == 0
    assert f"{EXPERIMENT_ID}: canary step 0 -> start" in once.output
    assert f"{EXPERIMENT_ID}: canary step 0 -> wait" in once.output


def test_wait_exit_code_through_the_console_entry_point(files: dict[str, Path]) -> None:
    """`python -m splitlab` (the console script's main()) exits 12 for a rolled-back canary,
    evaluate's rollback code (not the 1 of a crashed interpreter)."""
    import subprocess
    import sys

    args = ["canary", "wait", EXPERIMENT_ID, "--db", str(files["rolled_back"]), "--timeout", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "splitlab", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 12, done.stderr
    assert "rolled_back" in done.stdout
