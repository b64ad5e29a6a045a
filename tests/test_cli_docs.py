"""Every command has help text and a section in docs/cli.md (the sqlite-utils habit)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from splitlab.cli.main import COMMANDS, cli
from tests.conftest import ROOT

CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help(name: str) -> None:
    """`splitlab NAME --help` succeeds and says what the command does."""
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and (command.help or "").strip(), f"{name} has no help text"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_is_documented(name: str) -> None:
    """docs/cli.md has a section for every command."""
    assert f"## splitlab {name}" in CLI_DOC, f"docs/cli.md lacks '## splitlab {name}'"


def test_top_level_help_lists_every_command() -> None:
    """`splitlab --help` lists every registered command."""
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def _commands(group: click.Group, ctx: click.Context, prefix: tuple[str, ...]) -> Iterator[
    tuple[tuple[str, ...], click.Command]
]:  # fmt: skip
    """Every command below `group`, depth first, with its path of names."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, (*prefix, name)
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, info_name=name), (*prefix, name))


ALL_COMMANDS = list(_commands(cli, click.Context(cli, info_name="splitlab"), ()))
GROUPS = [(path, c) for path, c in ALL_COMMANDS if isinstance(c, click.Group)]


def _listed(help_text: str) -> dict[str, str]:
    """The "Commands:" section of a --help page: name -> its one-line help."""
    listed: dict[str, str] = {}
    section = help_text.split("\nCommands:\n", 1)[1] if "\nCommands:\n" in help_text else ""
    for line in section.splitlines():
        parts = line.split(maxsplit=1)
        if line.startswith("  ") and parts:
            listed[parts[0]] = parts[1] if len(parts) > 1 else ""
    return listed


def test_the_command_tree_has_groups() -> None:
    """The walk below finds the groups (experiments, keys) and their subcommands."""
    assert {path for path, _ in GROUPS} >= {("experiments",), ("keys",)}
    assert ("experiments", "update") in {path for path, _ in ALL_COMMANDS}


@pytest.mark.parametrize(
    "path", [path for path, _ in [((), cli), *GROUPS]], ids=lambda p: " ".join(p) or "splitlab"
)
def test_every_group_help_lists_each_subcommand_with_help(path: tuple[str, ...]) -> None:
    """`splitlab [GROUP] --help` lists every subcommand of the group, each with a line of
    help (so `splitlab experiments --help` shows create, list and update)."""
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    group = dict(ALL_COMMANDS).get(path, cli)
    assert isinstance(group, click.Group)
    listed = _listed(result.output)
    for name in group.list_commands(click.Context(group)):
        assert name in listed, f"`splitlab {' '.join(path)} --help` does not list {name!r}"
        assert listed[name].strip(), f"{' '.join((*path, name))} has no help line"


@pytest.mark.parametrize(
    "path", [path for path, _ in ALL_COMMANDS], ids=lambda p: " ".join(p)
)  # fmt: skip
def test_every_command_and_subcommand_has_help(path: tuple[str, ...]) -> None:
    """`splitlab ... --help` succeeds for every command and subcommand, with help text, and
    docs/cli.md names every subcommand in its group's section."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = dict(ALL_COMMANDS)[path]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    if len(path) > 1:
        section = CLI_DOC.split(f"## splitlab {path[0]}\n", 1)[1].split("\n## ", 1)[0]
        assert f"`{path[-1]}" in section or f" {path[-1]}" in section, path
