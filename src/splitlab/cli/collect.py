"""`splitlab collect` and `splitlab load`: collectors with their own logs, and their loader.

Both pass their arguments through to the modules that do the work
(:mod:`splitlab.server.logcollector` and :mod:`splitlab.store.merge`); docs/collectors.md.
"""

from __future__ import annotations

import click

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def collect(args: tuple[str, ...]) -> None:
    """Run event collectors that write their own durable logs (one per core or host).

    `splitlab collect --logs ROOT --workers N --port P` starts N processes sharing port P,
    worker i writing ROOT/NAME-i; `--log-dir DIR` runs one process on DIR. `splitlab load`
    moves the logs into the store. `--help` lists every option.
    """
    from splitlab.server.logcollector import main

    main(list(args))


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def load(args: tuple[str, ...]) -> None:
    """Load every collector log under a directory into a DuckDB file, exactly once.

    `splitlab load --db events.duckdb --logs ROOT` runs until stopped (SIGTERM or Ctrl-C
    end it between batches); `--once` loads what is there and exits. `--help` lists every
    option.
    """
    from splitlab.store.merge import main

    main(list(args))
