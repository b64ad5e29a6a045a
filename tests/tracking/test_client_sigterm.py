"""SIGTERM in a process that uses the tracking client: deliver, but never swallow the signal.

Each case is a real child process sending itself SIGTERM; the collector is a real HTTP server
on 127.0.0.1 (ScriptedCollector).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.tracking.tracking_helpers import Reply, ScriptedCollector

ROOT = Path(__file__).resolve().parents[2]


def run_child(
    body: str, collector: ScriptedCollector, **options: str
) -> subprocess.CompletedProcess[str]:
    """A child tracking 7 events (flush interval 1 h), then running ``body``; finished."""
    settings = "".join(f", {name}={value}" for name, value in options.items())
    code = textwrap.dedent(
        f"""
        import os, signal, time
        from splitlab.tracking import TrackingClient
        PRELUDE
        client = TrackingClient.http({collector.url!r}, flush_interval=3600.0{settings})
        for i in range(7):
            client.metric(f"user-{{i}}", "exp-1", "control", "checkout")
        """
    )
    prelude, _, rest = body.partition("---\n")
    code = code.replace("PRELUDE", textwrap.dedent(prelude).strip()) + textwrap.dedent(rest)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_sigterm_without_a_handler_delivers_then_dies_of_it(collector: ScriptedCollector) -> None:
    """No SIGTERM handler in the app: the client delivers, then the process dies of SIGTERM."""
    child = run_child(
        """
        ---
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        print("survived")
        """,
        collector,
    )
    assert child.returncode == -signal.SIGTERM, "the signal's default action still happens"
    assert len(collector.stored) == 7


def test_sigterm_with_the_collector_down_spools_within_the_close_timeout(
    collector: ScriptedCollector, tmp_path: Path
) -> None:
    """Collector down at SIGTERM: after close_timeout the events are spooled, with a warning."""
    collector.fail_forever = Reply(503)
    child = run_child(
        """
        ---
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        """,
        collector,
        close_timeout="0.5",
        spool_dir=repr(str(tmp_path)),
    )
    assert child.returncode == -signal.SIGTERM
    assert collector.stored == {}
    lines = b"".join(p.read_bytes() for p in tmp_path.glob("*.jsonl")).splitlines()
    assert len(lines) == 7
    assert f"undelivered events in the spool {tmp_path}" in child.stderr


def test_the_apps_own_handler_is_called_and_the_exit_stays_its_own(
    collector: ScriptedCollector,
) -> None:
    """An app handler installed first still runs; the app exits its way, and atexit delivers."""
    child = run_child(
        """
        stopping = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        ---
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping == [signal.SIGTERM], stopping
        print("clean exit")
        """,
        collector,
    )
    assert child.returncode == 0
    assert len(collector.stored) == 7


def test_an_ignored_sigterm_stays_ignored(collector: ScriptedCollector) -> None:
    """An app that ignores SIGTERM keeps running; the client does not close on it."""
    child = run_child(
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ---
        os.kill(os.getpid(), signal.SIGTERM)
        client.metric("user-late", "exp-1", "control", "checkout")
        assert client.stats.dropped == {}, client.stats
        """,
        collector,
    )
    assert child.returncode == 0
    assert len(collector.stored) == 8


def test_closing_the_client_gives_the_signal_back(collector: ScriptedCollector) -> None:
    """After close() the previous SIGTERM disposition is back in place."""
    child = run_child(
        """
        ---
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        client.close()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        """,
        collector,
    )
    assert child.returncode == 0, child.stderr
    assert len(collector.stored) == 7
