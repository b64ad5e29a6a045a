"""`--db` may be left out of the commands reading events only when both --registry and
--clickhouse are given; otherwise a usage error (exit 2) names what is missing, before
anything is opened (the addresses below would refuse a connection)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from splitlab.cli.main import cli

REGISTRY = ("--registry", "postgresql://nobody@127.0.0.1:1/none")
CLICKHOUSE = ("--clickhouse", "http://127.0.0.1:1/")
COMMANDS = [
    ("evaluate", "exp-a"),
    ("check", "exp-a"),
    ("scheduler", "--once"),
    ("bandit", "update", "exp-a"),
    ("canary", "wait", "exp-a", "--timeout", "0"),
    ("canary", "status", "exp-a"),
]


def _run(*args: str) -> Result:
    env = {"SPLITLAB_REGISTRY": None, "SPLITLAB_CLICKHOUSE": None}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ((), ["--registry postgresql://", "--clickhouse URL"]),
        (REGISTRY, ["--clickhouse URL (or SPLITLAB_CLICKHOUSE)"]),
        (CLICKHOUSE, ["--registry postgresql://... (or SPLITLAB_REGISTRY)"]),
    ],
    ids=["neither", "registry only", "clickhouse only"],
)
def test_without_db_both_shared_stores_are_needed(
    command: tuple[str, ...], given: tuple[str, ...], missing: list[str]
) -> None:
    result = _run(*command, *given)
    assert result.exit_code == 2, result.output
    if command[0] == "canary":
        assert "give exactly one of --db PATH and --server URL (or, instead of --db, both " \
            "--registry and --clickhouse)" in result.output  # fmt: skip
        return
    assert "--db FILE is required unless both --registry and --clickhouse are given" in (
        result.output
    )
    for option in missing:
        assert option in result.output
    assert "Traceback" not in result.output


def test_the_variables_count_as_given() -> None:
    """SPLITLAB_REGISTRY and SPLITLAB_CLICKHOUSE stand for the options: the command goes on
    to connect (and fails to, exit 3) instead of asking for --db."""
    result = CliRunner().invoke(
        cli, ["evaluate", "exp-a"],
        env={"SPLITLAB_REGISTRY": REGISTRY[1], "SPLITLAB_CLICKHOUSE": CLICKHOUSE[1]},
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "--db FILE is required" not in result.output


def test_canary_refuses_shared_store_options_beside_server() -> None:
    result = _run("canary", "status", "exp-a", "--server", "http://127.0.0.1:1", "--key", "k",
                  *CLICKHOUSE)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--clickhouse go with --db (or instead of it), not with --server" in result.output
