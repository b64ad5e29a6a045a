"""Keeping a replica's snapshot current when the registry is shared (PostgreSQL).

Every change to an experiment or a key raises the registry's version and announces it with
``NOTIFY splitlab_registry, '<version>'`` (the payload is the number only, far below
PostgreSQL's 8,000-byte cap). :class:`RegistryWatcher` runs one thread per server that:

* listens on its own connection and, on a notification with a version newer than the one it
  serves, rebuilds the view (``/v1/assign``, ``/v1/config``) and reloads the keys;
* polls the version every ``poll_seconds`` as well, so a notification lost for any reason
  is made up for within one poll;
* when the listening connection is lost (server restart, ``pg_terminate_backend``, network),
  reloads everything, polls, and reconnects the listener every ``retry_seconds``.

While PostgreSQL cannot be reached the server keeps serving the last snapshot it built;
:meth:`health` says so (``/healthz``), and writes through the API answer 503.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg

from splitlab.server.context import ServerContext
from splitlab.store.pgregistry.connection import RegistryUnavailableError, connect
from splitlab.store.pgregistry.migrations import CHANNEL
from splitlab.store.pgregistry.registry import PostgresRegistry

logger = logging.getLogger(__name__)

#: The listening connection's ``application_name`` (find it in ``pg_stat_activity``).
LISTENER_NAME = "splitlab-listener"


class RegistryWatcher:
    """Rebuild ``ctx``'s view whenever the shared registry's version moves."""

    def __init__(
        self,
        ctx: ServerContext,
        registry: PostgresRegistry,
        *,
        poll_seconds: float = 1.0,
        retry_seconds: float = 2.0,
    ) -> None:
        self._ctx = ctx
        self._registry = registry
        self._poll = poll_seconds
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="splitlab-registry", daemon=True)
        self._state_lock = threading.Lock()
        self.version = -1  # the version of the snapshot being served
        self.available = True
        self.listening = False
        self.listener_pid: int | None = None
        self.reloads = 0
        self._snapshot_at = time.time()
        self._listener: psycopg.Connection[Any] | None = None

    def start(self) -> RegistryWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._close_listener()

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports about the registry."""
        with self._state_lock:
            return {
                "backend": "postgresql",
                "available": self.available,
                "listening": self.listening,
                "version": self.version,
                "checkedSecondsAgo": round(time.time() - self._snapshot_at, 3),
            }

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        next_listen = 0.0
        while not self._stop.is_set():
            due = self._listener is None and time.monotonic() >= next_listen
            if due and not self._listen():
                next_listen = time.monotonic() + self._retry
            self._check()  # the poll: also the first load after (re)listening
            if self._listener is None:
                self._stop.wait(self._poll)
                continue
            try:
                for notice in self._listener.notifies(timeout=self._poll):
                    if self._stop.is_set():
                        return
                    if _number(notice.payload) > self.version:
                        self._check()
            except psycopg.Error as exc:
                logger.warning("registry: listener lost (%s); polling until it is back", exc)
                self._close_listener()
                self._reload()  # whatever was announced while it was down

    def _listen(self) -> bool:
        try:
            conn = connect(self._registry.dsn, name=LISTENER_NAME)
            conn.execute(f"LISTEN {CHANNEL}")
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        except (RegistryUnavailableError, psycopg.Error) as exc:
            logger.debug("registry: cannot listen yet: %s", exc)
            return False
        with self._state_lock:
            self._listener = conn
            self.listening = True
            self.listener_pid = int(row[0]) if row else None
        self._reload()  # changes made before LISTEN took effect are not announced
        return True

    def _close_listener(self) -> None:
        with self._state_lock:
            conn, self._listener = self._listener, None
            self.listening = False
            self.listener_pid = None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:  # pragma: no cover - closing a dead connection
                logger.debug("registry: closing the lost listener failed")

    def _check(self) -> None:
        """Rebuild the view when the version moved (the polling path)."""
        try:
            version = self._registry.version()
        except (RegistryUnavailableError, psycopg.Error) as exc:
            self._unavailable(exc)
            return
        if version != self.version:
            self._reload(version)
        else:
            self._set_available()

    def _reload(self, version: int | None = None) -> None:
        """Re-read everything: the view and the keys."""
        try:
            if version is None:
                version = self._registry.version()
            self._ctx.refresh()
            self._ctx.keys.reload()
        except (RegistryUnavailableError, psycopg.Error) as exc:
            self._unavailable(exc)
            return
        with self._state_lock:
            self.version = version
            self.reloads += 1
            self._snapshot_at = time.time()
        self._set_available()

    def _set_available(self) -> None:
        with self._state_lock:
            if not self.available:
                logger.warning("registry: PostgreSQL is back (version %d)", self.version)
            self.available = True
            self._snapshot_at = time.time()

    def _unavailable(self, exc: Exception) -> None:
        with self._state_lock:
            if self.available:
                logger.error(
                    "registry: PostgreSQL unavailable (%s); serving the snapshot of version %d",
                    exc,
                    self.version,
                )
            self.available = False


def _number(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return 1 << 62  # not a number: reload to be safe
