"""Every --db command turns a database it cannot open into one clean line and exit code 3.

The cases: the file is held by another process (a running `splitlab serve`, the normal case
for a cron hook), its directory does not exist, it is not a DuckDB file, and, for commands
that need an existing database, it does not exist (a mistyped path must not create an empty
database).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE

EXAMPLE = str(ARTICLE_EXAMPLE)

#: Command name -> its arguments without --db.
COMMANDS: dict[str, list[str]] = {
    "evaluate": ["evaluate", "exp-x"],
    "check": ["check", "exp-x"],
    "status": ["status", "exp-x"],
    "scheduler": ["scheduler", "--once"],
    "toggle": ["toggle", "exp-x", "control", "--reason", "r", "--by", "b"],
    "experiments create": ["experiments", "create", EXAMPLE],
    "experiments update": ["experiments", "update", EXAMPLE, "--reason", "r", "--by", "b"],
    "experiments list": ["experiments", "list"],
    "serve": ["serve", "--port", "0", "--no-scheduler"],
    "keys create": ["keys", "create", "--kind", "sdk"],
    "keys list": ["keys", "list"],
    "keys revoke": ["keys", "revoke", "0123456789ab"],
}

#: The commands that need an existing database (the others may create one).
NEED_EXISTING = [
    "evaluate",
    "check",
    "status",
    "scheduler",
    "toggle",
    "experiments update",
    "experiments list",
    "keys list",
    "keys revoke",
]


def _run(command: str, db: Path) -> Result:
    return CliRunner().invoke(cli, [*COMMANDS[command], "--db", str(db)])


def _assert_clean_refusal(result: Result) -> str:
    """Exit 3 and a single `error:` line, no traceback; returns the line."""
    assert result.exit_code == 3, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert line.startswith("error: --db ") and "\n" not in line, result.output
    return line


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_held_by_a_running_server_is_a_clean_error(command: str, locked_db: Path) -> None:
    """A file locked by another process says a running server holds it and what to do."""
    line = _assert_clean_refusal(_run(command, locked_db))
    assert "is locked by process" in line and "running `splitlab serve`" in line
    assert "stop the server" in line


def test_evaluate_on_a_held_file_suggests_the_servers_evaluate_route(locked_db: Path) -> None:
    """The cron hook's message names the HTTP route that takes the same look on the server."""
    line = _assert_clean_refusal(_run("evaluate", locked_db))
    assert "POST /v1/experiments/exp-x/evaluate" in line


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_directory_is_a_clean_error(command: str, tmp_path: Path) -> None:
    """A --db path in a directory that does not exist names that directory."""
    missing = tmp_path / "no-such-dir"
    line = _assert_clean_refusal(_run(command, missing / "splitlab.duckdb"))
    assert f"the directory {missing} does not exist" in line
    assert not missing.exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_that_is_not_duckdb_is_a_clean_error(command: str, tmp_path: Path) -> None:
    """A --db file that is not a DuckDB database is refused as such, and left untouched."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    line = _assert_clean_refusal(_run(command, path))
    assert "not a DuckDB database file" in line
    assert path.read_text() == "not a database\n" * 100


@pytest.mark.parametrize("command", NEED_EXISTING)
def test_a_mistyped_path_is_refused_not_created(command: str, tmp_path: Path) -> None:
    """A command that needs a database refuses a missing file instead of creating an empty one."""
    path = tmp_path / "splitlab.duckbd"
    line = _assert_clean_refusal(_run(command, path))
    assert "no such database file" in line
    assert not path.exists()


def test_demo_under_a_path_that_is_not_a_directory_is_a_clean_error(tmp_path: Path) -> None:
    """`demo --db` below a regular file cannot create its directory: exit 3, one line."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--db", str(blocker / "d.duckdb")])
    line = _assert_clean_refusal(result)
    assert "cannot create the directory" in line
