"""Every command has help text and a section in docs/cli.md (the sqlite-utils habit)."""

from __future__ import annotations

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
