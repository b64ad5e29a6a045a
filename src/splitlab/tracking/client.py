"""The tracking client: batches events and delivers them, at least once, from its own thread.

    client = TrackingClient.http("http://127.0.0.1:8000", spool_dir="/var/lib/app/spool")
    client.metric("user-1", "exp-1", "control", "checkout")   # returns at once
    client.close()                                            # or `with`, or at exit

Guarantees (what the tests pin down):

- An event's ``eventId`` is fixed when the event is created, so every retry and every replay
  from the spool carries the same id and the collector counts it once.
- A batch leaves memory only after the transport answered (delivered, or refused for good
  with a 4xx); a failed send keeps it and retries with exponential back-off and full jitter,
  waiting at least the collector's ``Retry-After``.
- Memory is bounded by ``max_buffered`` events. Past it, chunks of events go to the on-disk
  spool (:mod:`splitlab.tracking.spool`), replayed as soon as the collector answers again or
  on the next start. Events are dropped only on these documented limits, each counted in
  :attr:`TrackingClient.stats` under its reason and logged: ``buffer_full`` (no spool
  configured), ``spool_full`` (``spool_max_bytes`` reached), ``spool_write_failed`` (the disk
  refused the write), ``spool_corrupt`` (an unreadable spooled line), ``close_timeout`` (still
  undelivered at close and no spool), ``closed`` (tracked after close).
- ``close()``, leaving a ``with`` block, interpreter exit (an ``atexit`` hook) and SIGTERM
  when the process has no handler of its own (:func:`splitlab.signals.chain_sigterm`) deliver
  what is pending, within ``close_timeout`` seconds; what is still undelivered then is spooled.
  Events still in memory when the process is killed outright are lost (at most
  ``max_buffered``); set a small ``max_buffered`` if that matters more than throughput.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from splitlab.tracking.delivery import ClientStats, Deliverer, Tally
from splitlab.tracking.events import AttributeValue, Event
from splitlab.tracking.hooks import ProcessHooks
from splitlab.tracking.retry import Backoff
from splitlab.tracking.spool import Spool, SpoolFullError
from splitlab.tracking.transport import EventSink, HTTPTransport, InProcessTransport, Transport

logger = logging.getLogger(__name__)


def new_event_id() -> str:
    """A fresh random event id (UUID4), made once per logical event."""
    return str(uuid.uuid4())


class TrackingClient:
    """Batches events and delivers them through a :class:`Transport` from a background thread.

    ``batch_size`` events or ``flush_interval`` seconds after the oldest pending event,
    whichever comes first, make a batch. ``clock`` (monotonic seconds), ``wall_clock`` (epoch
    seconds, for event timestamps), ``sleep`` and ``rng`` (a numpy Generator, for the jitter)
    are injectable for tests.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        batch_size: int = 100,
        flush_interval: float = 5.0,
        max_buffered: int = 10_000,
        spool_dir: str | Path | None = None,
        spool_max_bytes: int = 256 * 1024 * 1024,
        backoff: Backoff | None = None,
        close_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        rng: np.random.Generator | None = None,
        register_atexit: bool = True,
        handle_sigterm: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be positive seconds (got {flush_interval})")
        if max_buffered < 2 * batch_size:
            raise ValueError(
                f"max_buffered must be at least 2 * batch_size = {2 * batch_size} "
                f"(got {max_buffered})"
            )
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffered = max_buffered
        self.close_timeout = close_timeout
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self._spool = Spool(spool_dir, max_bytes=spool_max_bytes) if spool_dir else None
        self._closed = False
        self._abandoned = False
        self._close_deadline = 0.0
        self._backoff = backoff or Backoff()
        self._sleep = sleep or self._interruptible_sleep
        self._start(rng if rng is not None else np.random.default_rng())
        sigterm = register_atexit if handle_sigterm is None else handle_sigterm
        self._hooks = ProcessHooks(
            self.close, self._after_fork, at_exit=register_atexit, on_sigterm=sigterm,
            close_timeout=close_timeout,
        )  # fmt: skip

    def _start(self, rng: np.random.Generator) -> None:
        """This process's state and sender thread (in __init__, and again in a forked child)."""
        self._pending: deque[Event] = deque()
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._oldest_at = 0.0
        self._in_flight = False
        self._flush_requested = False
        self._tally = Tally()
        self._deliverer = Deliverer(
            self._transport, self._tally, backoff=self._backoff, rng=rng, clock=self._clock,
            sleep=self._sleep, give_up_at=self._give_up_at,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._run, name="splitlab-tracking", daemon=True)
        if not self._closed:
            self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child (gunicorn --preload), which has no thread: a sender of its own.

        The parent's pending events and spool stay the parent's (one process per spool).
        """
        if self._spool is not None:
            logger.warning(
                "the tracking client's spool %s stays with the parent process; process %d has "
                "none (create the client after the fork to have one)",
                self._spool.directory,
                os.getpid(),
            )
            self._spool = None  # not closed: that would release the parent's lock
        reopen = getattr(self._transport, "after_fork", None)
        if callable(reopen):
            reopen()
        self._start(np.random.default_rng())  # the parent's generator would repeat its jitter

    # -- construction helpers -------------------------------------------------------------

    @classmethod
    def http(
        cls, url: str, *, api_key: str | None = None, timeout: float = 10.0, **options: Any
    ) -> TrackingClient:
        """A client posting to the splitlab collector at ``url`` (needs httpx).

        ``api_key`` is an SDK key of ``splitlab serve`` (``splitlab keys create --kind sdk``);
        the standalone collector needs none.
        """
        return cls(HTTPTransport(url, api_key=api_key, timeout=timeout), **options)

    @classmethod
    def in_process(cls, sink: EventSink, **options: Any) -> TrackingClient:
        """A client writing straight into ``sink`` (any object with ``ingest(events)``)."""
        return cls(InProcessTransport(sink), **options)

    # -- tracking ---------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The wall clock as epoch milliseconds (the timestamp of new events)."""
        return int(self._wall_clock() * 1000)

    def exposure(
        self,
        unit_id: str,
        experiment_id: str,
        variant: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        cluster_id: str | None = None,
    ) -> Event:
        """Track that ``unit_id`` was exposed to ``variant``; returns the event (with its id).

        ``cluster_id``: for a cluster design, the randomisation unit (the ``hashKey`` value,
        e.g. the account) when ``unit_id`` is the analysis unit (the user); for a switchback
        design, the switchback unit's value.
        """
        event = Event(
            event_id=event_id or new_event_id(),
            type="exposure",
            experiment_id=experiment_id,
            variant=variant,
            unit_id=unit_id,
            timestamp=self.now_ms() if timestamp_ms is None else timestamp_ms,
            attributes=dict(attributes) if attributes else None,
            cluster_id=cluster_id,
        )
        self.track(event)
        return event

    def metric(
        self,
        unit_id: str,
        experiment_id: str,
        variant: str,
        metric: str,
        value: float = 1.0,
        *,
        event_id: str | None = None,
        timestamp_ms: int | None = None,
        cluster_id: str | None = None,
    ) -> Event:
        """Track a metric event; returns the event (with its id).

        ``cluster_id`` as for :meth:`exposure` (the same value as the unit's exposure).
        """
        event = Event(
            event_id=event_id or new_event_id(),
            type="metric",
            experiment_id=experiment_id,
            variant=variant,
            unit_id=unit_id,
            timestamp=self.now_ms() if timestamp_ms is None else timestamp_ms,
            metric=metric,
            value=float(value),
            cluster_id=cluster_id,
        )
        self.track(event)
        return event

    def track(self, event: Event) -> None:
        """Queue ``event`` for delivery; never blocks on the network.

        Raises ValueError for a non-finite ``value`` (JSON has no NaN: it would reach the
        collector as null, which means 1) and for a ``cluster_id`` that is not a non-empty
        string (the collector would refuse the event long after this call returned).
        """
        if event.value is not None and not math.isfinite(event.value):
            raise ValueError(
                f"event {event.event_id}: value must be a finite number (got {event.value!r})"
            )
        cluster = event.cluster_id
        if cluster is not None and not (isinstance(cluster, str) and cluster):
            raise ValueError(
                f"event {event.event_id}: cluster_id must be a non-empty string or None "
                f"(got {cluster!r})"
            )
        spill: list[Event] = []
        with self._cond:
            if self._closed:
                self._tally.drop(1, "closed", "the client was closed before this event")
                return
            self._pending.append(event)
            self._tally.add("tracked")
            if len(self._pending) == 1:
                self._oldest_at = self._clock()
                self._cond.notify_all()  # the sender now waits for the flush interval
            if len(self._pending) >= self.max_buffered:
                spill = [self._pending.pop() for _ in range(self.batch_size)]
                spill.reverse()
            if len(self._pending) >= self.batch_size:
                self._cond.notify_all()
        if spill:
            self._spill(spill, why="buffer_full")

    # -- flushing and closing -----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is pending now; True once memory and spool are empty, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            while self._pending or self._in_flight or self._spool_waiting():
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            return True

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is pending (spooling what cannot be delivered in time), then stop."""
        limit = self.close_timeout if timeout is None else timeout
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._close_deadline = self._clock() + limit
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(limit + 5.0)
        with self._cond:
            self._abandoned = True
            leftover = list(self._pending)
            self._pending.clear()
        if leftover:
            logger.warning("%d events were still pending when the client closed", len(leftover))
            self._spill_in_batches(leftover, why="close_timeout")
        self._transport.close()
        if self._spool is not None:
            self._spool.close()  # warns when undelivered events wait in it
        self._hooks.remove()

    def __enter__(self) -> TrackingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> ClientStats:
        """What happened to the events so far (counts since this client started)."""
        with self._cond:
            pending = len(self._pending)
        return self._tally.snapshot(pending, self._spool.size_bytes if self._spool else 0)

    # -- the sender thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            if isinstance(job, list):
                self._send_memory_batch(job)
            else:
                self._replay_oldest_segment()

    def _next_job(self) -> list[Event] | str | None:
        """The next thing to send: a batch from memory, "spool", or None when closing is done."""
        with self._cond:
            while True:
                pending = len(self._pending)
                if self._closed:
                    return self._front_batch_locked() if pending else None
                if self._spool_waiting():
                    return "spool"
                due = self._clock() - self._oldest_at >= self.flush_interval
                if pending and (pending >= self.batch_size or self._flush_requested or due):
                    return self._front_batch_locked()
                if not pending and self._flush_requested:
                    self._flush_requested = False
                    self._cond.notify_all()
                wait = None
                if pending:
                    wait = max(0.0, self._oldest_at + self.flush_interval - self._clock())
                self._cond.wait(wait)

    def _front_batch_locked(self) -> list[Event]:
        self._in_flight = True
        count = min(self.batch_size, len(self._pending))
        return [self._pending[i] for i in range(count)]

    def _spool_waiting(self) -> bool:
        return self._spool is not None and self._spool.segment_count > 0

    def _send_memory_batch(self, batch: list[Event]) -> None:
        delivered = self._deliverer.deliver(batch)
        with self._cond:
            self._in_flight = False
            if not self._abandoned and delivered:
                for _ in batch:
                    self._pending.popleft()
                if self._pending:
                    self._oldest_at = self._clock()
            leftover: list[Event] = []
            if not delivered and not self._abandoned:
                leftover = list(self._pending)
                self._pending.clear()
            self._cond.notify_all()
        self._spill_in_batches(leftover, why="close_timeout")

    def _replay_oldest_segment(self) -> None:
        assert self._spool is not None
        segment = self._spool.oldest()
        if segment is None:
            return
        if segment.unreadable:
            self._tally.drop(
                segment.unreadable, "spool_corrupt", f"unreadable lines in {segment.path}"
            )
        if not segment.events or self._deliverer.deliver(list(segment.events)):
            self._spool.remove(segment)
            self._tally.add("replayed", len(segment.events))
            with self._cond:
                self._cond.notify_all()

    # -- spilling and dropping ------------------------------------------------------------------

    def _spill(self, events: list[Event], *, why: str) -> None:
        """Move events that cannot stay in memory to the spool, or drop them (counted)."""
        if self._spool is None:
            self._tally.drop(len(events), why, "no spool_dir is configured to hold them")
            return
        try:
            self._spool.write(events)
        except SpoolFullError as exc:
            self._tally.drop(len(events), "spool_full", str(exc))
            return
        except OSError as exc:
            self._tally.drop(len(events), "spool_write_failed", f"{self._spool.directory}: {exc}")
            return
        self._tally.add("spooled", len(events))
        with self._cond:
            self._cond.notify_all()

    def _spill_in_batches(self, events: list[Event], *, why: str) -> None:
        for start in range(0, len(events), self.batch_size):
            self._spill(events[start : start + self.batch_size], why=why)

    def _give_up_at(self) -> float | None:
        """The close deadline while closing, else None (retry for as long as it takes)."""
        with self._cond:
            return self._close_deadline if self._closed else None

    def _interruptible_sleep(self, seconds: float) -> None:
        """Sleep, but wake once early when close() is called (to flush without waiting)."""
        if self._wake.wait(seconds):
            self._wake.clear()
