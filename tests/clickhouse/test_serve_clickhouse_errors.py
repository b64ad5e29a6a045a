"""`splitlab serve --clickhouse` refuses what it cannot use at start: one line on stderr and
exit code 3 (2 for a usage error), no traceback, never the password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.store.clickhouse import LocalServer
from tests.collector.collector_helpers import free_port
from tests.server.serve_process import child_env

SECRET = "s3cret-Pw-9"


def _serve(tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    runner = CliRunner()
    found = runner.invoke(
        cli,
        ["serve", "--db", str(tmp_path / "a.duckdb"), "--port", str(free_port()), *options],
        env=env,
    )
    return found.exit_code, found.output


def test_an_unreachable_server_is_one_line_and_exit_code_3(tmp_path: Path) -> None:
    """A real `splitlab serve` process on a port where nothing listens: exit code 3, one
    line naming the option and the address (without its user information), no password."""
    port = free_port()
    command = [sys.executable, "-m", "splitlab", "serve", "--db", str(tmp_path / "a.duckdb"),
               "--port", str(free_port()), "--clickhouse", f"http://ops:{SECRET}@127.0.0.1:{port}/"]  # fmt: skip
    done = subprocess.run(
        command, env=child_env(SPLITLAB_CLICKHOUSE_PASSWORD=SECRET), capture_output=True,
        timeout=120,
    )  # fmt: skip
    stderr = done.stderr.decode()
    assert done.returncode == 3, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"error: --clickhouse http://127.0.0.1:{port}/: "), stderr
    assert "unreachable" in stderr
    assert SECRET not in stderr + done.stdout.decode()
    assert "ops" not in stderr


def test_a_wrong_password_is_refused_without_showing_it(
    tmp_path: Path, clickhouse: LocalServer
) -> None:
    """The real server refuses the password: the server's message, not the password."""
    code, output = _serve(
        tmp_path, "--clickhouse", clickhouse.url, env={"SPLITLAB_CLICKHOUSE_PASSWORD": SECRET}
    )
    assert code == 3, output
    assert output.startswith(f"error: --clickhouse {clickhouse.url}: "), output
    assert "password" in output.lower()
    assert SECRET not in output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--clickhouse-database", "events; DROP"],
         "--clickhouse-database 'events; DROP': expected letters, digits and '_'"),
        (["--clickhouse-database", "ok"], "expected http://HOST:PORT"),
    ],
    ids=["database", "scheme"],
)  # fmt: skip
def test_bad_options_name_the_option(tmp_path: Path, options: list[str], expected: str) -> None:
    code, output = _serve(tmp_path, "--clickhouse", "clickhouse://host:9000", *options)
    assert code == 3, output
    assert expected in output and "Traceback" not in output


def test_kafka_and_clickhouse_together_are_a_usage_error(tmp_path: Path) -> None:
    code, output = _serve(
        tmp_path, "--clickhouse", "http://127.0.0.1:1/", "--kafka", "127.0.0.1:9092"
    )
    assert code == 2, output
    assert "--kafka and --clickhouse" in output
