"""The command line with the registry in PostgreSQL: ``--registry`` and ``SPLITLAB_REGISTRY``
reach the registry without the ``--db`` file, and an unreachable PostgreSQL is one clean
message and exit code 3 (``splitlab serve`` included), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.evaluation.conftest import definition
from tests.pg_registry import PostgresDatabases
from tests.server.serve_process import child_env


def test_serve_with_postgres_down_exits_cleanly(tmp_path: Path) -> None:
    """Nothing listens on port 1: exit code 3, one line naming the server, no traceback,
    and no event file created."""
    done = subprocess.run(
        [sys.executable, "-m", "splitlab", "serve", "--db", str(tmp_path / "e.duckdb"),
         "--port", "0", "--registry", "postgresql://ana:hunter2@127.0.0.1:1/splitlab"],
        env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "registry postgresql://ana@127.0.0.1:1/splitlab: cannot connect" in done.stderr
    assert "hunter2" not in done.stderr
    assert not (tmp_path / "e.duckdb").exists()


def test_commands_use_the_registry_named_by_option_or_environment(
    pg_databases: PostgresDatabases, tmp_path: Path
) -> None:
    """Register with --registry, change and read with SPLITLAB_REGISTRY, manage keys: all in
    PostgreSQL; the --db file is never created."""
    dsn = pg_databases.new()
    db = str(tmp_path / "events.duckdb")
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(definition(status="running")))
    runner = CliRunner()
    created = runner.invoke(cli, ["experiments", "create", str(path), "--db", db,
                                  "--registry", dsn])  # fmt: skip
    assert created.exit_code == 0, created.output
    env = {"SPLITLAB_REGISTRY": dsn}
    paused = runner.invoke(cli, ["status", "exp-eval", "paused", "--db", db, "--reason", "r",
                                 "--by", "ana"], env=env)  # fmt: skip
    assert paused.exit_code == 0, paused.output
    shown = runner.invoke(cli, ["status", "exp-eval", "--db", db], env=env)
    assert shown.exit_code == 0 and "paused" in shown.output, shown.output
    key = runner.invoke(cli, ["keys", "create", "--db", db, "--kind", "sdk", "--name", "web"],
                        env=env)  # fmt: skip
    assert key.exit_code == 0, key.output
    listed = runner.invoke(cli, ["keys", "list", "--db", db, "--json"], env=env)
    assert [k["name"] for k in json.loads(listed.output)] == ["web"]
    assert not Path(db).exists()


def test_a_bad_registry_address_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["status", "x", "--db", str(tmp_path / "e.duckdb"), "--registry", "mysql://h/db"]
    )
    assert result.exit_code == 3
    assert "expected a PostgreSQL address" in result.output
