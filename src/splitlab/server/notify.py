"""Config change notifications for the open ``GET /v1/config/stream`` connections.

:meth:`~splitlab.server.context.ServerContext.refresh` swaps in a new view on whatever thread
made the change (a request's worker thread, the scheduler thread); when the SDK config's ETag
changed it calls :meth:`ConfigNotifier.publish`, which wakes every open stream on its own
event loop (``call_soon_threadsafe``). A stream then reads the view's current ETag itself, so
nothing polls the database and a burst of changes costs one wake-up per stream.

The number of open streams is bounded (:class:`TooManyStreams` beyond it), and
:meth:`ConfigNotifier.close` wakes every stream for the last time so that each ends its
response: a server stopping does not wait for connections that would otherwise never end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

#: Open streams one server keeps at most (each holds a connection and a little memory).
DEFAULT_MAX_STREAMS = 1000


class TooManyStreams(Exception):
    """Every stream slot is taken; the caller answers 503 with ``Retry-After``."""


class Subscription:
    """One open stream: an :class:`asyncio.Event` set on its loop at each change."""

    __slots__ = ("changed", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.changed = asyncio.Event()

    def wake(self) -> None:
        """Set :attr:`changed` from any thread (a closed loop is ignored: its stream is gone)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.changed.set)


class ConfigNotifier:
    """The open streams of one server, woken when the served config changes."""

    def __init__(self, max_streams: int = DEFAULT_MAX_STREAMS) -> None:
        self.max_streams = max_streams
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the server is stopping (streams end, new ones are refused)."""
        return self._closed

    @property
    def open_streams(self) -> int:
        return len(self._subscriptions)

    def subscribe(self) -> Subscription:
        """A new subscription on the running loop (:class:`TooManyStreams` when full)."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            if len(self._subscriptions) >= self.max_streams:
                raise TooManyStreams
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def publish(self) -> None:
        """Wake every open stream (thread-safe; called after the view was swapped)."""
        with self._lock:
            waiting = list(self._subscriptions)
        for subscription in waiting:
            subscription.wake()

    def reopen(self) -> None:
        """Accept streams again (a server started anew over the same context)."""
        self._closed = False

    def close(self) -> None:
        """The server is stopping: every stream ends its response now."""
        self._closed = True
        self.publish()
