"""`scripts/cluster-demo.sh`: the scale-out topology on one machine (PostgreSQL registry, a
Tansu broker, two `splitlab serve` replicas forwarding to Kafka, one `load-kafka` loader)
passes its own checks, and Ctrl-C stops every process it started and removes its files."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "cluster-demo.sh"
CHECKS = [
    "check ok: replica B reads its registry from PostgreSQL",
    "check ok: each replica acknowledged its 100 events (after its own fsync'd log)",
    "check ok: B assigns user-1 while the experiment runs",
    "check ok: B serves the pause made through A within 2 s",
    "check ok: the loader stored the 200 events of both replicas once each (A's batch sent twice)",
    "check ok: a peek over the loaded file counts the 100 units of both replicas",
]

pytestmark = pytest.mark.slow


def _ports(output: str) -> list[int]:
    """Every loopback port the script printed (replicas, registry, broker)."""
    return sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", output)})


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def _directories(output: str) -> list[Path]:
    return [Path(p) for p in set(re.findall(r"/tmp/splitlab-cluster-demo[-\w.]*", output))]


def test_check_mode_passes_every_check_and_cleans_up() -> None:
    done = subprocess.run(
        [str(SCRIPT), "--check"], capture_output=True, text=True, timeout=180, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for line in CHECKS:
        assert line in output, output
    assert "FAILED" not in output
    assert "all checks passed" in output
    assert "loaded: 100 exposures, 100 metric events, 200 distinct event ids" in output
    # where to look: both replicas, the admin key, the logs
    assert re.search(r"admin key +sl_admin_", output), output
    assert "serve-a.log" in output and "load-kafka.log" in output
    ports = _ports(output)
    assert len(ports) >= 4, output  # PostgreSQL, the broker, replicas A and B
    assert [p for p in ports if _listening(p)] == []
    directories = _directories(output)
    assert directories and [d for d in directories if d.exists()] == []


def test_ctrl_c_stops_everything() -> None:
    """Interactive mode: after the checks it waits; SIGINT to its process group (what a
    terminal's Ctrl-C sends) stops the servers, the loader, the broker and PostgreSQL."""
    process = subprocess.Popen(
        [str(SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + 180
    try:
        for line in process.stdout:
            output += line
            if "press Ctrl-C" in line or time.monotonic() > deadline:
                break
        assert "all checks passed" in output, output
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output += rest
    assert process.returncode == 130, output
    assert "stopping ..." in output
    ports = _ports(output)
    assert len(ports) >= 4, output
    assert [p for p in ports if _listening(p)] == []
    directories = _directories(output)
    assert directories and [d for d in directories if d.exists()] == []
