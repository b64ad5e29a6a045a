"""`splitlab demo`: build the demo and serve its dashboard at http://127.0.0.1:8000."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from splitlab.demo.setup import DemoResult
    from splitlab.store import DuckDBStore


@click.command("demo")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A new database file to build the demo in, kept afterwards (default: a "
                   "fresh temporary directory, printed at the start and removed when the "
                   "demo exits).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to serve on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to serve the dashboard and API on.")  # fmt: skip
@click.option("--no-serve", is_flag=True, help="Build the demo, print the summary and exit.")
@click.option("--days", default=14, show_default=True, type=click.IntRange(5, 60),
              help="Days of simulated traffic.")  # fmt: skip
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.05, 5.0),
              help="Share of the default traffic (50,000 visitors a day); planned sample sizes "
                   "shrink with it, so a small scale makes a quick but complete demo.")  # fmt: skip
@click.option("--seed", default=7, show_default=True, type=int,
              help="Seed of the simulated traffic.")  # fmt: skip
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="A browser origin (http://localhost:3000) whose pages may call the SDK "
                   "routes, as for `splitlab serve`; repeatable; also SPLITLAB_CORS_ORIGINS.")  # fmt: skip
def demo(
    db: Path | None,
    host: str,
    port: int,
    no_serve: bool,
    days: int,
    scale: float,
    seed: int,
    cors_origins: tuple[str, ...],
) -> None:
    """Nine experiments (a holdout among them), weeks of traffic, looks, and the dashboard.

    The article's exp-checkout-flow-v3 (variant-a really is better), a search-ranking test
    whose error-rate guardrail breaks (rolled back automatically), an A/A test (stopped
    with no effect), a pricing test randomised by account (cluster design), a dispatch
    algorithm switched back hourly over 8 regions (switchback design), a database migration
    released as a canary (rolled back at its 25 % step when p99 latency regresses), a
    welcome voucher judged on the time to the first order (Kaplan-Meier, restricted mean)
    and day-7 return, a four-arm onboarding bandit and a holdout keeping 5 % of users out
    of the growth experiments (the checkout flow). Every visitor goes through the real assignment service, every
    event through the collector's validation into the durable store; looks run on each
    experiment's schedule, and the canary monitor and bandit updater on their own clocks.
    """
    import os

    from splitlab.cli.database import DatabaseUnavailableError, open_store
    from splitlab.cli.ports import ensure_port_free
    from splitlab.server.cors import ENV, parse_origins

    origins = parse_origins([*cors_origins, os.environ.get(ENV, "")])  # a bad one: refused now
    if not no_serve:
        ensure_port_free(host, port)  # before the set-up, which takes half a minute

    if db is not None and db.exists():
        raise click.BadParameter(
            f"{db} exists; the demo needs a fresh file (remove it or pick another)",
            param_hint="--db",
        )
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"--db {db}: cannot create the directory {db.parent} ({exc.strerror or exc})"
            ) from None
    console = Console()
    temporary: Path | None = None  # the demo's own directory, removed when it exits
    if db is None:
        temporary = Path(tempfile.mkdtemp(prefix="splitlab-demo-"))
        path = temporary / "splitlab.duckdb"
    else:
        path = db
    opened: list[DuckDBStore] = []

    def opener(new: Path) -> DuckDBStore:
        store = open_store(new, must_exist=False)
        opened.append(store)
        return store

    # SIGTERM unwinds through this `finally` like Ctrl-C does (splitlab.signals, around every
    # command), so the stores close and the temporary directory goes either way.
    try:
        console.print(f"Building the demo in [bold]{path}[/bold]")
        result = _build(console, path, days, scale, seed, opener)
        if no_serve:
            return
        from splitlab.server.run import run_server

        console.print(
            f"Dashboard: [bold]http://{host}:{port}/[/bold] (sign in with the admin key; "
            "Ctrl-C stops)"
        )
        run_server(result.ctx, host, port, log_level="warning", cors_origins=origins)
    finally:
        try:
            for store in opened:
                store.close()
        finally:
            if temporary is not None:  # --db files are the user's; the temporary one is ours
                shutil.rmtree(temporary, ignore_errors=True)
                console.print(f"Removed the demo's temporary directory {temporary}")


def _build(
    console: Console, path: Path, days: int, scale: float, seed: int,
    opener: Callable[[Path], DuckDBStore],
) -> DemoResult:  # fmt: skip
    """Build the demo with a progress bar, then print its experiments and keys."""
    from splitlab.demo.setup import ADAPTIVE_PHASES, build_demo

    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("Simulating days of traffic, then the canary and the bandit",
                                 total=days + ADAPTIVE_PHASES)  # fmt: skip
        result = build_demo(
            path, scale=scale, days=days, seed=seed,
            on_day=lambda _day: progress.advance(task), opener=opener,
        )  # fmt: skip
    table = Table(title="Experiments")
    for column in ("experiment", "status", "last decision"):
        table.add_column(column)
    for experiment_id, (status, action) in sorted(result.outcome.items()):
        table.add_row(experiment_id, status, action)
    console.print(table)
    console.print(
        f"{result.events:,} events, {result.looks} looks, set up in "
        f"{time.monotonic() - started:.1f} s."
    )
    console.print(f"Admin key: [bold yellow]{result.admin_key}[/bold yellow]")
    console.print(f"SDK key:   [bold]{result.sdk_key}[/bold]")
    return result
