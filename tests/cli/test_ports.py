"""`splitlab demo` and `splitlab serve` refuse a taken port before doing anything else."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_demo_refuses_a_taken_port_before_building(taken_port: int, tmp_path: Path) -> None:
    """The demo exits 3 naming the port and --port, and has built nothing (no database)."""
    db = tmp_path / "demo.duckdb"
    args = ["demo", "--port", str(taken_port), "--db", str(db), "--scale", "0.05", "--days", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert f"port {taken_port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output and "Traceback" not in result.output
    assert not db.exists()


def test_serve_refuses_a_taken_port_before_opening_the_database(
    taken_port: int, tmp_path: Path
) -> None:
    """serve exits 3 on a taken port before it creates the database or an admin key."""
    db = tmp_path / "serve.duckdb"
    result = CliRunner().invoke(cli, ["serve", "--port", str(taken_port), "--db", str(db)])
    assert result.exit_code == 3, result.output
    assert f"port {taken_port} on 127.0.0.1 is already in use" in result.output
    assert "Admin key" not in result.output and not db.exists()
