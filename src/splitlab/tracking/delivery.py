"""Delivering one batch: retry with back-off until it is delivered or refused for good.

A batch is *done* when the transport answered: delivered (some events may be rejected one by
one, which is logged and counted) or refused as a whole with a 4xx other than 429 (logged and
counted; a 413 first splits the batch in halves). Network errors, 429 and 5xx are retried
with :class:`~splitlab.tracking.retry.Backoff`; the events, and so their ids, are the same
objects on every attempt.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from splitlab.tracking.errors import RejectedBatchError, RetryableSendError
from splitlab.tracking.events import Event
from splitlab.tracking.retry import Backoff
from splitlab.tracking.transport import SendResult, Transport

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A snapshot of what the client did with the events it was given."""

    tracked: int
    accepted: int
    duplicates: int
    rejected: int
    retries: int
    spooled: int
    replayed: int
    pending: int
    spool_bytes: int
    #: Events dropped on a documented limit, by reason (see the client's docstring).
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        """Events dropped on a documented limit, all reasons together."""
        return sum(self.dropped.values())


class Tally:
    """Thread-safe counters of the client, and of dropped events by reason (each logged)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._mutex = threading.Lock()

    def add(self, name: str, count: int = 1) -> None:
        """Add ``count`` to the counter ``name``."""
        with self._mutex:
            self._counts[name] += count

    def drop(self, count: int, reason: str, detail: str) -> None:
        """Count ``count`` dropped events under ``reason`` and log why."""
        with self._mutex:
            self._dropped[reason] += count
        logger.error("dropped %d tracking events (%s): %s", count, reason, detail)

    def snapshot(self, pending: int, spool_bytes: int) -> ClientStats:
        """The counters as a :class:`ClientStats`."""
        with self._mutex:
            counts, dropped = dict(self._counts), dict(self._dropped)
        return ClientStats(
            tracked=counts.get("tracked", 0),
            accepted=counts.get("accepted", 0),
            duplicates=counts.get("duplicates", 0),
            rejected=counts.get("rejected", 0),
            retries=counts.get("retries", 0),
            spooled=counts.get("spooled", 0),
            replayed=counts.get("replayed", 0),
            pending=pending,
            spool_bytes=spool_bytes,
            dropped=dropped,
        )


class Deliverer:
    """Sends batches through a transport, retrying as the module docstring says.

    ``give_up_at`` returns None while retrying may go on forever, or the ``clock`` time after
    which no retry may start (the client's close deadline).
    """

    def __init__(
        self,
        transport: Transport,
        tally: Tally,
        *,
        backoff: Backoff,
        rng: np.random.Generator,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        give_up_at: Callable[[], float | None],
    ) -> None:
        self.transport = transport
        self._tally = tally
        self._backoff = backoff
        self._rng = rng
        self._clock = clock
        self._sleep = sleep
        self._give_up_at = give_up_at

    def deliver(self, events: list[Event]) -> bool:
        """Send until done (True), or until the close deadline makes us give up (False)."""
        attempt = 0
        while True:
            try:
                result = self.transport.send(events)
            except RetryableSendError as exc:
                attempt += 1
                delay = self._backoff.delay(attempt, self._rng, exc.retry_after)
                self._tally.add("retries")
                deadline = self._give_up_at()
                if deadline is not None and self._clock() + delay > deadline:
                    logger.warning("giving up sending %d events at close: %s", len(events), exc)
                    return False
                logger.warning(
                    "sending %d events failed (%s); retry %d in %.2f s",
                    len(events),
                    exc,
                    attempt,
                    delay,
                )
                self._sleep(delay)
            except RejectedBatchError as exc:
                if exc.status == 413 and len(events) > 1:
                    half = len(events) // 2
                    return self.deliver(events[:half]) and self.deliver(events[half:])
                logger.error("the collector refused %d events for good: %s", len(events), exc)
                self._tally.add("rejected", len(events))
                return True
            else:
                self._record(result)
                return True

    def _record(self, result: SendResult) -> None:
        for rejection in result.rejections:
            logger.warning(
                "the collector rejected event %s (index %d): %s",
                rejection.event_id,
                rejection.index,
                rejection.reason,
            )
        self._tally.add("accepted", result.accepted)
        self._tally.add("duplicates", result.duplicates)
        self._tally.add("rejected", len(result.rejections))
