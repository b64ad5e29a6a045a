"""The write path both event stores share: a durable log in front, a loader thread behind.

* :class:`LogWriter` takes events, drops those recently seen (by ``eventId``), appends the rest
  to the :class:`~splitlab.store.log.AppendLog` with group commit, and resolves a future once
  they are fsync'd.
* :class:`LoaderThread` moves durable records from the log into a :class:`LoadSink` (DuckDB,
  ClickHouse) in large batches, at most every ``interval_s`` or at once when someone waits,
  retrying failed loads, and lets readers wait until what they wrote is loaded.

What differs between the stores (which errors are retried, back-off, how a reader waits) is a
:class:`LoadPolicy` and the sink; the threading is here, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import msgspec

from splitlab.store.base import IngestResult
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.recent import RecentIds
from splitlab.tracking.events import Event

logger = logging.getLogger(__name__)


class LogWriter:
    """Acknowledges events once they are durable in `log` (each ``eventId`` written once)."""

    def __init__(self, log: AppendLog, recent_ids: int) -> None:
        self._log = log
        self._recent = RecentIds(recent_ids)
        self._lock = threading.Lock()
        self._encoder = msgspec.json.Encoder()

    def submit(self, events: Sequence[Event]) -> Future[IngestResult]:
        """Queue `events` for the log; the future resolves once they are durable.

        Raises :class:`~splitlab.store.errors.OverloadedError` at once when the write queue is
        full; the future fails with :class:`StoreError` when the write failed.
        """
        result: Future[IngestResult] = Future()
        with self._lock:
            fresh, waits, duplicates = self._recent.claim(events)
            if fresh:
                try:
                    written = self._log.submit(self._encoder.encode_lines(fresh))
                except StoreError:
                    self._recent.forget(fresh, None)
                    raise
                self._recent.attach(fresh, written)
                waits.append(written)
        _after_all(waits, result, IngestResult(len(fresh), duplicates))
        return result

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """Write `events` durably and return once they are fsync'd."""
        return self.submit(events).result()


class LoadSink(Protocol):
    """Where the loader thread puts the log's records (one thread calls it)."""

    @property
    def position(self) -> Position:
        """How far the log has been loaded."""
        ...

    def load_once(self) -> int:
        """Load one batch of durable records; the number loaded (0: caught up)."""
        ...


@dataclass(frozen=True)
class LoadPolicy:
    """How a store's loader thread paces itself and treats errors."""

    #: Pause between load passes (a waiting reader wakes the thread at once).
    interval_s: float
    #: Errors of a pass that are logged and retried at the next pass.
    retryable: tuple[type[BaseException], ...]
    #: Errors that stop the thread (readers then get a :class:`StoreError`).
    fatal: tuple[type[BaseException], ...] = ()
    #: While passes fail, double the pause up to this many seconds (None: keep the interval).
    max_backoff_s: float | None = None
    #: What is being loaded into, for log messages.
    target: str = "the database"
    #: The thread's name.
    thread_name: str = "splitlab-loader"


class LoaderThread:
    """A daemon thread that runs `sink`'s loads from `log` under `policy`."""

    def __init__(self, sink: LoadSink, log: AppendLog, policy: LoadPolicy) -> None:
        self._sink = sink
        self._log = log
        self._policy = policy
        self._wake = log.listen()
        self._urgent = threading.Event()
        self._loaded = threading.Condition()
        #: Load passes started and finished.
        self._started = 0
        self._finished = 0
        #: The error of the last pass (None if it succeeded).
        self.last_error: BaseException | None = None
        #: The error that stopped the thread, if one did.
        self.fatal: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=policy.thread_name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def catch_up(self) -> None:
        """Load everything durable now, in the caller's thread (errors rise)."""
        while self._sink.load_once():
            with self._loaded:
                self._loaded.notify_all()

    def _run(self) -> None:
        """Load in large batches: at most every interval, at once when a reader waits."""
        policy = self._policy
        last = time.monotonic()
        pause = policy.interval_s
        while True:
            self._wake.wait(pause)
            self._urgent.wait(max(0.0, last + pause - time.monotonic()))
            self._wake.clear()
            self._urgent.clear()
            if self._stopping:
                return
            with self._loaded:
                self._started += 1
            error: BaseException | None = None
            try:
                self.catch_up()
            except policy.retryable as exc:
                error = exc
            except policy.fatal as exc:
                logger.error("reading the event log failed; the loader stops: %s", exc)
                with self._loaded:
                    self.fatal = exc
                    self._loaded.notify_all()
                return
            if error is None:
                pause = policy.interval_s
            elif policy.max_backoff_s is None:
                logger.error("loading events into %s failed (will retry): %s", policy.target, error)
            else:
                logger.warning(
                    "loading events into %s failed (will retry): %s", policy.target, error
                )
                pause = min(policy.max_backoff_s, max(pause, 0.05) * 2)
            last = time.monotonic()
            with self._loaded:
                self._finished += 1
                self.last_error = error
                self._loaded.notify_all()

    def wait_loaded(self, target: Position, timeout: float) -> None:
        """Wake the thread and wait until the sink has loaded the log up to `target`.

        Raises :class:`StoreError` when that does not happen within `timeout` seconds (the
        last pass's error, if any, is in the message).
        """
        deadline = time.monotonic() + timeout
        with self._loaded:
            while self._sink.position < target:
                self._wake.set()
                self._urgent.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    cause = f": {self.last_error}" if self.last_error else ""
                    raise StoreError(f"events were not loaded within {timeout:g} s{cause}")
                self._loaded.wait(remaining)

    def wait_pass(self, timeout: float | None) -> bool:
        """Wake the thread and wait for a whole pass that starts after the call.

        True once one finished (see :attr:`last_error` for how it went), False on timeout.
        Raises :class:`StoreError` if the thread stopped on a fatal error.
        """
        with self._loaded:
            started = self._started
        self._wake.set()
        self._urgent.set()
        with self._loaded:
            ok = self._loaded.wait_for(
                lambda: self.fatal is not None or self._finished > started, timeout
            )
            if self.fatal is not None:
                raise StoreError(f"the event loader stopped: {self.fatal}")
            return ok

    def stop(self) -> None:
        """Stop the thread after its current pass (the log should be closed first)."""
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        self._thread.join()


def _after_all(
    waits: Sequence[Future[Position]], result: Future[IngestResult], value: IngestResult
) -> None:
    """Resolve `result` with `value` once every future in `waits` succeeded (or fail it)."""
    pending = [f for f in waits if not f.done()]
    for future in waits:
        if future.done() and future.exception() is not None:
            result.set_exception(future.exception() or StoreError("write failed"))
            return
    if not pending:
        result.set_result(value)
        return
    remaining = [len(pending)]
    lock = threading.Lock()

    def done(future: Future[Position]) -> None:
        error = future.exception()
        with lock:
            if result.done():
                return
            if error is not None:
                result.set_exception(error)
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                result.set_result(value)

    for future in pending:
        future.add_done_callback(done)
