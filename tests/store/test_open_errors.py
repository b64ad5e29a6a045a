"""Opening a DuckDBStore on a file it cannot use raises one classified StoreError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from splitlab.store import DuckDBStore
from splitlab.store.errors import DatabaseOpenError, StoreError


def test_a_file_held_by_another_process_is_locked_with_its_pid(tmp_path: Path) -> None:
    """A file another process holds open gives kind 'locked' and that process's id."""
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
         "print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseOpenError) as info:
            DuckDBStore(path)
        assert info.value.kind == "locked"
        assert info.value.holder_pid == holder.pid
        assert isinstance(info.value, StoreError)
    finally:
        holder.kill()
        holder.wait()


def test_a_file_that_is_not_duckdb_is_named_as_such(tmp_path: Path) -> None:
    """A text file in the database's place gives kind 'not_duckdb', never a raw DuckDB error."""
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database, just some text " * 200)
    with pytest.raises(DatabaseOpenError) as info:
        DuckDBStore(path)
    assert info.value.kind == "not_duckdb"
    assert str(path) in str(info.value)
