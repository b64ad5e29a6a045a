"""Fixtures of the CLI tests: a DuckDB file held open by another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

#: A second process that opens the file (as `splitlab serve` does), says so, and holds it
#: until its stdin closes.
HOLDER = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print('holding', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture(scope="module")
def locked_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DuckDB file that another live process holds open (and so locks)."""
    path = tmp_path_factory.mktemp("locked") / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "holding"
        yield path
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
