"""`splitlab load-kafka --clickhouse`: a malformed address is one clear line at once, and
nothing it prints holds the user information of an address or the password."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--clickhouse", "127.0.0.1:8123"], "--clickhouse 127.0.0.1:8123"),
        (["--clickhouse", "htp://u:secret@x"], "--clickhouse htp://u:secret@x"),
        (
            ["--clickhouse", "http://127.0.0.1:1/", "--cluster", "c", "--shard", "ch2:8123"],
            "--shard ch2:8123",
        ),
    ],
)
def test_a_malformed_address_is_refused_before_anything_is_opened(
    args: list[str], shown: str
) -> None:
    """Not retried as an outage for 30 s: exit code 3 and one line naming the option."""
    result = CliRunner().invoke(cli, ["load-kafka", *args, "--kafka", "127.0.0.1:1"])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        f"error: {shown}: expected http://HOST:PORT (ClickHouse's HTTP interface) or chdb:DIR"
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_reported_without_the_credentials() -> None:
    """The start line and the retry warnings show the address without `user:secret@`, and
    never the password from SPLITLAB_CLICKHOUSE_PASSWORD."""
    port = _closed_port()
    env = {**os.environ, "SPLITLAB_CLICKHOUSE_PASSWORD": "pw-never-shown"}
    process = subprocess.Popen(
        [sys.executable, "-m", "splitlab", "load-kafka", "--kafka", "127.0.0.1:1",
         "--clickhouse", f"http://alice:secret-in-url@127.0.0.1:{port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(seen) < 3:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
    finally:
        process.kill()
        process.wait(timeout=30)
    text = "".join(seen)
    assert f"into http://127.0.0.1:{port}/ database splitlab" in text, text
    assert f"ClickHouse at http://127.0.0.1:{port}/ is unreachable" in text, text
    assert "secret-in-url" not in text and "alice" not in text and "pw-never-shown" not in text
