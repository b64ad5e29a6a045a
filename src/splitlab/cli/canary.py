"""`splitlab canary status|wait EXPERIMENT_ID`: a canary's state, and waiting for its outcome.

Both read either a database file (``--db``, when no server holds it; with ``--registry`` and
``--clickhouse`` the registry and the events are read from there instead, as ``splitlab
evaluate`` does) or a running server (``--server URL`` with an admin key in ``--key`` or
``SPLITLAB_API_KEY``). ``wait`` is what a
deployment pipeline calls after starting a canary; its exit code says how the canary ended,
with the outcome codes of ``splitlab evaluate`` (docs/cli.md), so that none is the 1 of a
crashed interpreter:

* 0: promoted (shipped with the canary variant);
* 12: rolled back (``evaluate``'s rollback);
* 11: ended without promotion otherwise: stopped, or shipped with the baseline
  (``evaluate``'s stop);
* 14: still running (or paused) when ``--timeout`` ran out;
* 2: usage error (click's, as for every command);
* 3: the canary cannot be read (unknown experiment, not a canary, database or server
  unavailable), as for every command.

``status`` exits with the code ``wait --timeout 0`` would give (14 while it runs).

With ``--db`` the command judges the canary itself at each poll (the server's scheduler is
not running on that file), so ``splitlab canary wait --db`` also drives a canary without a
server.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click
import httpx

from splitlab.cli.clickhouse import clickhouse_options, clickhouse_target, open_events
from splitlab.cli.database import registry_address, registry_option
from splitlab.cli.evaluate import EXIT_CODES
from splitlab.errors import SplitlabError

EXIT_PROMOTED = 0
EXIT_ROLLED_BACK = EXIT_CODES["rollback"]  # 12
EXIT_ENDED = EXIT_CODES["stop"]  # 11
EXIT_RUNNING = 14


class CanaryUnavailableError(SplitlabError):
    """The canary's state cannot be read from the server."""

    code = "canary_unavailable"


def exit_code(view: dict[str, Any]) -> int | None:
    """The exit code of a finished canary's state; None while it runs (or is paused)."""
    status = view["status"]
    if status == "rolled_back":
        return EXIT_ROLLED_BACK
    if status == "shipped":
        promoted = any(step["outcome"] == "promoted" for step in view["ramp"])
        return EXIT_PROMOTED if promoted or view["ramp"][-1]["outcome"] == "passed" else EXIT_ENDED
    if status == "stopped":
        return EXIT_ENDED
    return None


_db = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="The splitlab database file (DuckDB), when no server holds it. Not needed with "
    "both --registry and --clickhouse: the file is not opened then.",
)
_server = click.option("--server", help="A running splitlab server's URL, e.g. http://host:8000.")
_key = click.option(
    "--key",
    envvar="SPLITLAB_API_KEY",
    help="An admin key for --server (default: the SPLITLAB_API_KEY environment variable).",
)


@click.group("canary")
def canary() -> None:
    """Canary releases: the ramp's state, and waiting for promotion or rollback."""


@canary.command("status")
@click.argument("experiment_id")
@_db
@registry_option
@clickhouse_options
@_server
@_key
@click.option("--json", "as_json", is_flag=True, help="Print the canary's state as JSON.")
def status(
    experiment_id: str, db_path: str | None, server: str | None, key: str | None, as_json: bool
) -> None:
    """Print the canary's ramp, its current step and its latest judgment.

    Exit 0 promoted, 12 rolled back, 11 ended otherwise, 14 still running (as wait
    --timeout 0), 3 when it cannot be read, 2 on a usage error.
    """
    view = _reader(experiment_id, db_path, server, key, judge=False)()
    if as_json:
        click.echo(json.dumps(view, indent=2))
    else:
        _print(view)
    code = exit_code(view)
    sys.exit(EXIT_RUNNING if code is None else code)


@canary.command("wait")
@click.argument("experiment_id")
@_db
@registry_option
@clickhouse_options
@_server
@_key
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.0),
    default=3600.0,
    show_default=True,
    help="Give up after this many seconds (exit 14 while the canary still runs).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between two reads of the canary's state.",
)
def wait(
    experiment_id: str,
    db_path: str | None,
    server: str | None,
    key: str | None,
    timeout: float,
    poll: float,
) -> None:
    """Wait until the canary is promoted (exit 0) or rolled back (exit 12).

    Exit 14 when it still runs at --timeout, 11 when it ended otherwise (stopped, or shipped
    with the baseline), 3 when it cannot be read, 2 on a usage error.
    """
    read = _reader(experiment_id, db_path, server, key, judge=True)
    deadline = time.monotonic() + timeout
    while True:
        view = read()
        code = exit_code(view)
        if code is not None or time.monotonic() >= deadline:
            break
        time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
    step = view["step"]
    click.echo(
        f"{view['experimentId']}: {view['status']} (step {step['index']}, {step['percent']:g} % "
        "canary)"
    )
    if view["judgments"]:
        click.echo(f"  last judgment: {view['judgments'][-1]['reason']}")
    sys.exit(EXIT_RUNNING if code is None else code)


def _reader(
    experiment_id: str, db_path: str | None, server: str | None, key: str | None, *, judge: bool
) -> Callable[[], dict[str, Any]]:
    """A function reading the canary's state from the file (or the registry and ClickHouse)
    or from the server."""
    shared = bool(registry_address()) and clickhouse_target() is not None
    if server is not None:
        if db_path is not None:
            raise click.UsageError("give exactly one of --db PATH and --server URL")
        _refuse_beside_server()
        if not key:
            raise click.UsageError("--server needs an admin key (--key or SPLITLAB_API_KEY)")
        return lambda: _from_server(server, key, experiment_id)
    if db_path is None and not shared:
        raise click.UsageError(
            "give exactly one of --db PATH and --server URL (or, instead of --db, both "
            "--registry and --clickhouse)"
        )

    def from_file() -> dict[str, Any]:
        from splitlab.evaluation.canary import CanaryMonitor
        from splitlab.evaluation.canary_view import canary_view
        from splitlab.store.canary_ledger import CanaryLedger

        on_server = f"use --server URL (GET /v1/experiments/{experiment_id}/canary)"
        with open_events(db_path, on_server=on_server) as (store, registry):
            registry.get(experiment_id)
            if judge:
                CanaryMonitor(store, registry).run_once()
            return canary_view(registry, CanaryLedger.for_store(registry), experiment_id)

    return from_file


def _refuse_beside_server() -> None:
    """--registry and --clickhouse given on the command line with --server: the server reads
    its own (their variables, set for the replicas, are left unused)."""
    ctx = click.get_current_context()
    given = [
        f"--{name}"
        for name in ("registry", "clickhouse")
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise click.UsageError(
            f"{' and '.join(given)} go with --db (or instead of it), not with --server: the "
            "server reads its own registry and events"
        )


def _from_server(server: str, key: str, experiment_id: str) -> dict[str, Any]:
    url = f"{server.rstrip('/')}/v1/experiments/{experiment_id}/canary"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30.0)
    except httpx.HTTPError as exc:
        raise CanaryUnavailableError(f"--server {server}: unreachable ({exc})") from None
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise CanaryUnavailableError(f"--server {server}: {response.status_code}: {message}")
    data: dict[str, Any] = response.json()
    return data


def _print(view: dict[str, Any]) -> None:
    step = view["step"]
    click.echo(
        f"{view['experimentId']}: {view['status']}, step {step['index']} "
        f"({step['percent']:g} % canary, started {step['startedAt'] or 'not yet'}), judged "
        f"every {view['intervalMinutes']} min"
    )
    for i, s in enumerate(view["ramp"]):
        when = f" {s['startedAt']} .. {s['endedAt'] or ''}" if s["startedAt"] else ""
        click.echo(f"  step {i}: {s['percent']:g} %  {s['outcome']}{when}")
    if view["judgments"]:
        last = view["judgments"][-1]
        click.echo(f"last judgment ({last['at']}): {last['verdict']} -> {last['action']}")
        click.echo(f"  {last['reason']}")
        for m in last["metrics"]:
            click.echo(f"  - {m.get('name')}: {m.get('verdict')}  {m.get('reason', '')}")
