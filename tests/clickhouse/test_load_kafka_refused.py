"""`splitlab load-kafka --clickhouse` with credentials the server refuses stops at once with
one line, instead of retrying a wrong password forever as if ClickHouse were down."""

from __future__ import annotations

from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.store.clickhouse import LocalServer


def test_a_wrong_password_is_one_line_and_exit_code_3(clickhouse: LocalServer) -> None:
    result = CliRunner().invoke(
        cli,
        ["load-kafka", "--clickhouse", clickhouse.url, "--kafka", "127.0.0.1:1"],
        env={"SPLITLAB_CLICKHOUSE_PASSWORD": "never-shown"},
    )
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: ClickHouse at {clickhouse.url} answered 401: ")
    assert "Wrong password for user default" in lines[0] and "never-shown" not in lines[0]


def test_an_unknown_user_on_a_shard_is_refused_naming_the_shard(clickhouse: LocalServer) -> None:
    shard = clickhouse.url.replace("http://", "http://nobody:x@", 1)
    result = CliRunner().invoke(
        cli,
        ["load-kafka", "--clickhouse", clickhouse.url, "--shard", shard, "--cluster", "c",
         "--kafka", "127.0.0.1:1"],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Unknown user nobody" in lines[0], result.output
    assert lines[0].startswith(f"error: ClickHouse at {clickhouse.url} answered 401")
    assert "nobody:x" not in result.output
