"""Running the server: in the foreground (``splitlab serve``) or on a background thread.

:class:`BackgroundServer` starts uvicorn on a thread and returns once the socket listens; the
demo's tests and the browser tests use it to get a real server on 127.0.0.1 with a free port.

:class:`SchedulerThread` runs the scheduled looks inside the server process. With the
embedded store this is where they must run: DuckDB lets one process open the file for
writing, so a separate ``splitlab scheduler`` cannot share it with a running server.
The webhook worker (:mod:`splitlab.server.webhooks`) runs beside it in the same process.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn

from splitlab.errors import SplitlabError
from splitlab.evaluation.bandit import BanditUpdater
from splitlab.evaluation.canary import CanaryMonitor
from splitlab.evaluation.monitor import GuardrailMonitor
from splitlab.evaluation.scheduler import Scheduler
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.server.cors import CorsPolicy
from splitlab.server.stream import install_log_redaction
from splitlab.server.webhooks import WebhookWorker
from splitlab.store import DuckDBStore

if TYPE_CHECKING:
    from splitlab.server.registry_watch import RegistryWatcher
from splitlab.store.webhooks import WebhookStore

logger = logging.getLogger(__name__)


def open_context(db: str) -> ServerContext:
    """A server context over the database file `db` (created when missing)."""
    return ServerContext.open(DuckDBStore(db))


def _config(
    ctx: ServerContext, host: str, port: int, log_level: str, cors: CorsPolicy | None = None
) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(ctx, cors=cors), host=host, port=port, log_level=log_level,
        access_log=False, lifespan="off", timeout_graceful_shutdown=5,
    )  # fmt: skip


class Server(uvicorn.Server):
    """uvicorn's server, ending the open config streams first when it stops.

    uvicorn waits (up to its graceful timeout) for open connections to finish; a config
    stream never would, so a stop would always take that long. Closing them first keeps a
    SIGTERM stop prompt.
    """

    def __init__(self, ctx: ServerContext, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._ctx = ctx
        install_log_redaction()  # the SDK key may come in a stream's query string

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._ctx.config_changes.reopen()
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._ctx.config_changes.close()
        await super().shutdown(sockets)


def run_server(
    ctx: ServerContext,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    scheduler: bool = True,
    cors_origins: Sequence[str] = (),
) -> None:
    """Serve until interrupted (with the scheduled looks on a thread, unless turned off)."""
    watcher = watch_registry(ctx)  # other replicas' changes, with a shared registry
    looks = SchedulerThread(ctx) if scheduler else None
    if looks is not None:
        looks.start()
    # The subscriptions live with the registry (see docs/webhooks.md).
    hooks = WebhookWorker(WebhookStore.for_store(ctx.registry, create=False)).start()
    try:
        from splitlab.server.gctune import quiet_gc

        quiet_gc()  # full GC passes were the events endpoint's p99 (splitlab.server.gctune)
        Server(ctx, _config(ctx, host, port, log_level, CorsPolicy(tuple(cors_origins)))).run()
    finally:
        hooks.stop()
        if looks is not None:
            looks.stop()
        if watcher is not None:
            watcher.stop()


def watch_registry(ctx: ServerContext) -> RegistryWatcher | None:
    """With a shared (PostgreSQL) registry, follow the changes other replicas make."""
    from splitlab.store.pgregistry.registry import PostgresRegistry

    if not isinstance(ctx.registry, PostgresRegistry):
        return None
    from splitlab.server.registry_watch import RegistryWatcher

    watcher = RegistryWatcher(ctx, ctx.registry).start()
    ctx.registry_health = watcher.health
    return watcher


class SchedulerThread:
    """Take due looks, judge canaries and run the interval monitor every `poll_seconds`
    (often enough for one-minute intervals); refresh the server's view after any change."""

    def __init__(self, ctx: ServerContext, poll_seconds: float = 10.0) -> None:
        self._ctx = ctx
        self._scheduler = Scheduler(ctx.events, ctx.registry)
        self._canary = CanaryMonitor(ctx.events, ctx.registry)
        self._guardrails = GuardrailMonitor(ctx.events, ctx.registry)
        self._bandits = BanditUpdater(ctx.events, ctx.registry)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="splitlab-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                records = self._scheduler.run_once()
            except SplitlabError as exc:  # a refused look, or a shared registry unreachable
                logger.error("scheduled looks failed: %s", exc)
                records = []
            for record in records:
                self._ctx.metrics.add_look(record.action)
            acted = self._monitors()
            if records or acted:  # a new step, weights or status: serve them
                try:
                    self._ctx.refresh()
                except SplitlabError as exc:  # served again by the next refresh that works
                    logger.error("refresh after scheduled work failed: %s", exc)
            self._stop.wait(self._poll)

    def _monitors(self) -> bool:
        """One pass of the canary monitor, the interval monitor and the bandit updater (each
        on its own, so that one failing does not stop the others); whether any acted."""
        acted = False
        for name, run in (
            ("canary monitor", self._canary.run_once),
            ("interval monitor", self._guardrails.run_once),
            ("bandit updater", self._bandits.run_once),
        ):
            try:
                acted = bool(run()) or acted
            except SplitlabError as exc:
                logger.error("%s failed: %s", name, exc)
        return acted


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class BackgroundServer:
    """A real uvicorn server on a thread: ``with BackgroundServer(ctx) as server: server.url``."""

    def __init__(
        self, ctx: ServerContext, host: str = "127.0.0.1", port: int | None = None,
        log_level: str = "warning", cors_origins: Sequence[str] = (),
    ) -> None:  # fmt: skip
        self.host = host
        self.port = port or free_port(host)
        cors = CorsPolicy(tuple(cors_origins))
        self._server = Server(ctx, _config(ctx, self.host, self.port, log_level, cors))
        self._thread = threading.Thread(
            target=self._server.run, name="splitlab-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
