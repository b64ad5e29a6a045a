"""``sigterm_unwinds``: the process stops by SIGTERM even when a library replaces the exception.

DuckDB, interrupted by a signal inside a query, raises its own "Query interrupted" error
instead of the handler's :class:`~splitlab.signals.Terminated`; the stop must still end by the
signal (exit -15), as a supervisor expects, and an error without SIGTERM must still surface.
"""

from __future__ import annotations

import signal
import subprocess
import sys

SCRIPT = """
import os, signal, sys
from splitlab.signals import Terminated, sigterm_unwinds
with sigterm_unwinds():
    try:
        if sys.argv[1] == "signal":
            os.kill(os.getpid(), signal.SIGTERM)
        raise RuntimeError("no signal")
    except Terminated:
        raise RuntimeError("Query interrupted") from None
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60
    )


def test_a_replaced_exception_after_sigterm_still_stops_by_the_signal() -> None:
    assert run("signal").returncode == -signal.SIGTERM


def test_an_error_without_sigterm_is_not_swallowed() -> None:
    done = run("error")
    assert done.returncode == 1
    assert "RuntimeError: no signal" in done.stderr
