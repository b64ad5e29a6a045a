"""The shared write path: the loader thread's retries, fatal stop and waiting, on a real log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from splitlab.store import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.writepath import LoaderThread, LoadPolicy


class Flaky(RuntimeError):
    """A load error the test policy retries."""


class ListSink:
    """Collects the log's payloads; fails its first `failures` loads with `error`."""

    def __init__(self, log: AppendLog, failures: int, error: BaseException) -> None:
        self._log = log
        self.failures = failures
        self.error = error
        self.position = Position(0, 0)
        self.payloads: list[bytes] = []

    def load_once(self) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        count = 0
        for end, payload in self._log.read(self.position, 1 << 20, self._log.durable_position):
            self.payloads.append(payload)
            self.position = end
            count += 1
        return count


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AppendLog]:
    """A real append-only log in a temporary directory."""
    opened = AppendLog(tmp_path / "log", segment_bytes=1 << 20, max_pending_bytes=1 << 20)
    yield opened
    opened.close()


def policy(
    fatal: tuple[type[BaseException], ...] = (), max_backoff_s: float | None = None
) -> LoadPolicy:
    """A fast-paced policy that retries :class:`Flaky`."""
    return LoadPolicy(0.01, (Flaky,), fatal=fatal, max_backoff_s=max_backoff_s)


def test_a_failed_load_is_retried_until_the_records_are_loaded(log: AppendLog) -> None:
    """Retryable errors are retried at the next pass; wait_loaded returns once all is loaded."""
    sink = ListSink(log, failures=3, error=Flaky("down"))
    thread = LoaderThread(sink, log, policy())
    thread.start()
    log.submit(b"one\n").result()
    log.submit(b"two\n").result()
    thread.wait_loaded(log.durable_position, timeout=10.0)
    assert b"".join(sink.payloads) == b"one\ntwo\n" and sink.failures == 0
    log.close()
    thread.stop()


def test_a_lasting_error_is_named_when_waiting_times_out(log: AppendLog) -> None:
    """wait_loaded raises StoreError carrying the last pass's error after its timeout."""
    sink = ListSink(log, failures=10**9, error=Flaky("disk full"))
    thread = LoaderThread(sink, log, policy())
    thread.start()
    log.submit(b"one\n").result()
    with pytest.raises(StoreError, match="disk full"):
        thread.wait_loaded(log.durable_position, timeout=0.3)
    log.close()
    thread.stop()


def test_a_fatal_error_stops_the_thread_and_fails_waiting_readers(log: AppendLog) -> None:
    """An error of the fatal kind ends the thread; wait_pass then raises StoreError."""
    sink = ListSink(log, failures=1, error=OSError("log unreadable"))
    thread = LoaderThread(sink, log, policy(fatal=(OSError,), max_backoff_s=0.1))
    thread.start()
    with pytest.raises(StoreError, match="log unreadable"):
        thread.wait_pass(timeout=10.0)
    assert isinstance(thread.fatal, OSError)
    log.close()
    thread.stop()


def test_wait_pass_sees_a_pass_that_started_after_the_call(log: AppendLog) -> None:
    """wait_pass returns True after a whole pass and reports that pass's error, if any."""
    sink = ListSink(log, failures=1, error=Flaky("unreachable"))
    thread = LoaderThread(sink, log, policy(max_backoff_s=0.05))
    thread.start()
    log.submit(b"x\n").result()
    assert thread.wait_pass(timeout=10.0)
    if thread.last_error is not None:  # the first pass failed: the next one succeeds
        assert thread.wait_pass(timeout=10.0)
    assert thread.last_error is None and sink.payloads == [b"x\n"]
    log.close()
    thread.stop()
