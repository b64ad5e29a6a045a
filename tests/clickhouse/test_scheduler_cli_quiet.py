"""`splitlab scheduler --clickhouse` prints its looks, not the HTTP client's request log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.store.clickhouse import LocalServer
from tests.conftest import ROOT


def test_a_pass_over_clickhouse_logs_no_http_requests(
    clickhouse: LocalServer, tmp_path: Path
) -> None:
    """One pass opens the ClickHouse store (a dozen HTTP requests); none is logged."""
    db = str(tmp_path / "reg.duckdb")
    definition = str(ROOT / "examples" / "exp-checkout-flow-v3.json")
    created = CliRunner().invoke(cli, ["experiments", "create", definition, "--db", db,
                                       "--by", "test"])  # fmt: skip
    assert created.exit_code == 0, created.output
    done = subprocess.run(
        [sys.executable, "-m", "splitlab", "scheduler", "--db", db, "--once",
         "--clickhouse", clickhouse.url, "--clickhouse-database", "scheduler_quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no look was due" in done.stdout
    assert "HTTP Request" not in done.stderr, done.stderr
