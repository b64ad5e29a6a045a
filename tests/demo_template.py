"""One build of the dashboard tests' demo, copied for each suite that opens it.

The server tests (tests/server/conftest.py) and the browser tests (tests/browser/conftest.py)
each need a small complete demo in a store of their own (the server tests change its classic
experiments). Building it takes about 15 s on two cores; copying the closed database file and
its logs (the event log beside it, whose positions the database records, and the sticky log)
takes a fraction of a second, so the session builds it once and each suite opens a copy: the
same files, the same keys, the same ``DemoResult`` figures.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

from splitlab.demo.setup import DemoResult, build_demo
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore

#: The simulated "now" of the demo (the dashboard tests' dates follow from it).
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def build_template(directory: Path) -> DemoResult:
    """Build the demo (scale 0.3, six days, ``NOW``) in ``directory`` and close its store."""
    result = build_demo(directory / "demo.duckdb", scale=0.3, days=6, now=NOW)
    result.ctx.store.close()
    wal = result.db.with_name(result.db.name + ".wal")
    assert not wal.exists(), f"the closed demo left {wal}"
    return result


def open_copy(template: DemoResult, directory: Path) -> DemoResult:
    """A copy of the built demo's database and of its logs (``demo.duckdb.log/``,
    ``demo.duckdb.sticky.log/``) in ``directory``, opened as a new server context (the caller
    closes ``ctx.store``)."""
    for source in template.db.parent.iterdir():
        if source.name.startswith(template.db.name):
            if source.is_dir():
                shutil.copytree(source, directory / source.name)
            else:
                shutil.copyfile(source, directory / source.name)
    path = directory / template.db.name
    return dataclasses.replace(template, ctx=ServerContext.open(DuckDBStore(path)), db=path)
