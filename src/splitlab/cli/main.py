"""The `splitlab` command: a thin layer over the library.

Each command lives in its own module under ``splitlab.cli`` and is listed in ``COMMANDS``.
Library errors (:class:`splitlab.errors.SplitlabError`) become a clean message on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from splitlab import __version__
from splitlab.errors import SplitlabError
from splitlab.signals import sigterm_unwinds

#: Command name -> "module under splitlab.cli:attribute". Modules are imported only when
#: their command runs (or `--help` lists it), so a quick command never loads the server.
COMMANDS: dict[str, str] = {
    "evaluate": "evaluate:evaluate",
    "canary": "canary:canary",
    "scheduler": "scheduler:scheduler",
    "check": "check:check",
    "status": "status:status",
    "toggle": "toggle:toggle",
    "experiments": "experiments:experiments",
    "holdouts": "holdouts:holdouts",
    "validate": "definitions:validate",
    "schema": "definitions:schema",
    "assign": "assign:assign",
    "analyze": "analyze:analyze_command",
    "bandit": "bandit:bandit",
    "power": "power:power",
    "allocate": "allocate:allocate",
    "serve": "serve:serve",
    "keys": "keys:keys",
    "webhooks": "webhooks:webhooks",
    "demo": "demo:demo",
    "load-kafka": "kafka:load_kafka",
    "collect": "collect:collect",
    "load": "collect:load",
}

#: Exit codes (documented in docs/cli.md).
EXIT_USAGE = 2
EXIT_INVALID = 3


class SplitlabGroup(click.Group):
    """A lazily loading click group that turns splitlab's errors into a message and exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(f"splitlab.cli.{module}"), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SplitlabError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(EXIT_INVALID)


@click.group(cls=SplitlabGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="splitlab")
def cli() -> None:
    """splitlab: experiments from definition to decision."""


def main() -> None:
    """Console-script entry point.

    SIGTERM (systemd, Docker, Kubernetes) stops a command as cleanly as Ctrl-C: it unwinds
    through every ``finally`` (a server closes its store, loading the last events into the
    database), then the process ends by SIGTERM as a supervisor expects.
    """
    with sigterm_unwinds():
        cli(prog_name="splitlab")
