"""`splitlab load-kafka --clickhouse` takes the ClickHouse options and variables of `splitlab
serve` and `splitlab evaluate` (--clickhouse-database, --clickhouse-user,
--clickhouse-password, SPLITLAB_CLICKHOUSE...), checked against a real ClickHouse 18.16
server whose only user is `default` without a password: what the server refuses shows
which credentials reached it. The old --database still works, with a deprecation note."""

from __future__ import annotations

from click.testing import CliRunner, Result

from splitlab.cli.main import cli
from splitlab.store.clickhouse import LocalServer

UNSET = {
    name: None
    for name in ("SPLITLAB_CLICKHOUSE", "SPLITLAB_CLICKHOUSE_USER",
                 "SPLITLAB_CLICKHOUSE_PASSWORD", "SPLITLAB_CLICKHOUSE_DATABASE")
}  # fmt: skip


def _load(*args: str, **env: str) -> Result:
    return CliRunner().invoke(
        cli, ["load-kafka", "--kafka", "127.0.0.1:1", *args], env={**UNSET, **env}
    )


def _refusal(result: Result, url: str) -> str:
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: ClickHouse at {url} answered 401"), lines[0]
    return lines[0]


def test_the_password_option_reaches_the_server_and_is_never_printed(
    clickhouse: LocalServer,
) -> None:
    line = _refusal(
        _load("--clickhouse", clickhouse.url, "--clickhouse-password", "opt-secret"),
        clickhouse.url,
    )
    assert "Wrong password for user default" in line and "opt-secret" not in line


def test_the_user_option_and_variable_reach_the_server(clickhouse: LocalServer) -> None:
    by_option = _load("--clickhouse", clickhouse.url, "--clickhouse-user", "alice")
    assert "Unknown user alice" in _refusal(by_option, clickhouse.url)
    by_variable = _load("--clickhouse", clickhouse.url, SPLITLAB_CLICKHOUSE_USER="bob")
    assert "Unknown user bob" in _refusal(by_variable, clickhouse.url)


def test_the_address_and_database_variables_are_read(clickhouse: LocalServer) -> None:
    """SPLITLAB_CLICKHOUSE stands for --clickhouse (the server is asked, and refuses the
    variable's password); SPLITLAB_CLICKHOUSE_DATABASE is checked as --clickhouse-database."""
    line = _refusal(
        _load(SPLITLAB_CLICKHOUSE=clickhouse.url, SPLITLAB_CLICKHOUSE_PASSWORD="env-secret"),
        clickhouse.url,
    )
    assert "Wrong password for user default" in line and "env-secret" not in line
    bad = _load("--clickhouse", clickhouse.url, SPLITLAB_CLICKHOUSE_DATABASE="no-dash")
    assert (
        bad.exit_code == 3 and "--clickhouse-database 'no-dash': expected letters" in bad.output
    ), bad.output


def test_the_old_database_option_is_a_deprecated_alias() -> None:
    old = _load("--clickhouse", "chdb:unused", "--database", "no-dash")
    assert (
        old.exit_code == 3 and "--clickhouse-database 'no-dash': expected letters" in old.output
    ), old.output
    assert "deprecated" in old.output and "--clickhouse-database" in old.output
    both = _load("--clickhouse", "chdb:x", "--database", "a", "--clickhouse-database", "b")
    assert both.exit_code == 2
    assert "--database is the old name of --clickhouse-database: give one" in both.output
    assert "--database" not in CliRunner().invoke(cli, ["load-kafka", "--help"]).output


def test_a_variable_address_beside_db_is_named() -> None:
    result = _load("--db", "x.duckdb", SPLITLAB_CLICKHOUSE="http://127.0.0.1:1/")
    assert result.exit_code == 2
    assert "(got both: --clickhouse from SPLITLAB_CLICKHOUSE)" in result.output
