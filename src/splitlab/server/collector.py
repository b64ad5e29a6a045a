"""The event collector: ``POST /v1/events`` as a lean pure-ASGI application.

A request body is a JSON list of events (or ``{"events": [...]}``), at most
:attr:`~splitlab.tracking.events.Limits.max_events` of them. Valid events are written to the
store's durable log and the answer comes only once they are fsync'd::

    200 {"accepted": 98, "duplicates": 1, "rejected": 1,
         "rejections": [{"index": 7, "field": "value", "value": "NaN",
                         "expected": "a finite number"}]}

Every failure has the one error shape ``{"error": {"status", "code", "message", "details"}}``:
400 for a body that is not a batch (malformed JSON, not a list), 413 for too many events or
bytes, 503 with ``Retry-After`` when the write queue is full or storage failed (nothing of that
batch is acknowledged, so the client retries it; the same ``eventId`` values make the retry
safe). ``GET /healthz`` answers 200.

Runnable alone (crash tests, benchmarks)::

    python -m splitlab.server.collector --db events.duckdb --port 8080 [--experiments exp.json]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import Future
from typing import Any, Protocol

import msgspec

from splitlab.store.base import IngestResult
from splitlab.store.errors import OverloadedError, StoreError
from splitlab.tracking.events import BatchError, Event, Known, Limits, Rejection, validate_batch

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Called with the request scope before the body is read: None lets the request in, a
#: ``(status, code, message)`` triple refuses it with that error.
Authorize = Callable[[Scope], "tuple[int, str, str] | None"]

#: Called with the request scope, the valid events and the rejections before anything is
#: written: None stores the events as they are; otherwise the events to store and the
#: rejections to answer (the server recomputes browser exposures here).
Review = Callable[
    [Scope, "list[Event]", "list[Rejection]"], "tuple[list[Event], list[Rejection]] | None"
]

_JSON_HEADERS = [(b"content-type", b"application/json")]


class Sink(Protocol):
    """Where the collector writes (a :class:`~splitlab.store.DuckDBStore`)."""

    def submit(self, events: list[Event]) -> Future[IngestResult]: ...


class _Answer(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: int
    rejections: list[dict[str, Any]]


_encode = msgspec.json.Encoder().encode


class Refused(Exception):
    """An error answer in the one error shape."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def create_collector(
    store: Sink,
    known: Callable[[], Known] | None = None,
    *,
    limits: Limits | None = None,
    max_body_bytes: int = 8 << 20,
    authorize: Authorize | None = None,
    on_shutdown: Callable[[], None] | None = None,
    review: Review | None = None,
) -> ASGIApp:
    """The collector ASGI app writing into `store`.

    `known` returns experiment id -> variant names at each request (None accepts any
    experiment: for trusted setups and benchmarks). `authorize` is an optional hook on the
    request scope (the server plugs its API-key check in there). `on_shutdown` runs (in a
    thread) when the ASGI server shuts down, when the collector runs on its own. `review`
    sees the valid events before they are written (:data:`Review`).
    """
    limits = limits or Limits()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown)
            return
        if scope["type"] != "http":
            return
        try:
            answer = await _handle(scope, receive)
        except Refused as exc:
            await _send_error(send, exc)
            return
        await _send(send, 200, _encode(answer), _JSON_HEADERS)

    async def _handle(scope: Scope, receive: Receive) -> _Answer | dict[str, str]:
        method, path = scope["method"], scope["path"]
        if path == "/healthz" and method in ("GET", "HEAD"):
            return {"status": "ok"}
        if path != "/v1/events":
            raise Refused(404, "not_found", f"no route {path}; the collector serves /v1/events")
        if method != "POST":
            raise Refused(405, "method_not_allowed", f"{method} /v1/events: expected POST")
        if authorize is not None:
            refusal = authorize(scope)
            if refusal is not None:
                raise Refused(*refusal)
        body = await _read_body(scope, receive, max_body_bytes)
        try:
            events, rejections = validate_batch(body, known() if known else None, limits=limits)
        except BatchError as exc:
            raise Refused(exc.status, exc.code, str(exc)) from None
        if review is not None and events:
            reviewed = review(scope, events, rejections)
            if reviewed is not None:
                events, rejections = reviewed
        result = IngestResult(0, 0)
        if events:
            result = await _write(store, events)
        return _Answer(
            result.accepted,
            result.duplicates,
            _rejected_count(rejections),
            [r.to_dict() for r in rejections],
        )

    return app


def _rejected_count(rejections: list[Any]) -> int:
    """Events refused (an event with two problems is one rejected event)."""
    return len({r.index for r in rejections})


async def _write(store: Sink, events: list[Event]) -> IngestResult:
    try:
        future = store.submit(events)
        return await asyncio.wrap_future(future)
    except OverloadedError as exc:
        raise Refused(503, exc.code, str(exc), exc.retry_after) from None
    except StoreError as exc:
        raise Refused(503, exc.code, str(exc), exc.retry_after) from None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise Refused(413, "payload_too_large", f"the body may be at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused(400, "disconnected", "the client went away before the body ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refused(413, "payload_too_large", f"the body may be at most {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_error(send: Send, exc: Refused) -> None:
    body = {"error": {"status": exc.status, "code": exc.code, "message": exc.message,
                      "details": []}}  # fmt: skip
    headers = list(_JSON_HEADERS)
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(max(1, round(exc.retry_after))).encode()))
        body["error"]["details"] = [{"retryAfter": exc.retry_after}]
    await _send(send, exc.status, _encode(body), headers)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, on_shutdown: Callable[[], None] | None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await asyncio.to_thread(on_shutdown)
            await send({"type": "lifespan.shutdown.complete"})
            return


def known_from_files(paths: list[str]) -> Mapping[str, tuple[str, ...]]:
    """Experiment id -> variant names from experiment definition files."""
    from splitlab.config import load_experiment

    experiments = [load_experiment(p) for p in paths]
    return {e.experiment_id: e.variant_names for e in experiments}


def main(argv: list[str] | None = None) -> None:
    """Run the collector alone: ``python -m splitlab.server.collector --db PATH --port N``."""
    import argparse

    import uvicorn

    from splitlab.signals import sigterm_unwinds
    from splitlab.store import DuckDBStore

    parser = argparse.ArgumentParser(prog="python -m splitlab.server.collector")
    parser.add_argument("--db", required=True, help="DuckDB file (its log sits beside it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--experiments", nargs="*", default=[], help="definition JSON files")
    parser.add_argument("--max-events", type=int, default=Limits().max_events)
    parser.add_argument("--max-pending-mb", type=float, default=64, help="write queue bound")
    parser.add_argument("--log-dir", help="directory of the durable log (default: DB + .log)")
    parser.add_argument("--segment-mb", type=float, default=64, help="log segment size")
    parser.add_argument("--load-interval", type=float, default=0.5, help="seconds between loads")
    parser.add_argument("--duckdb-threads", type=int, help="DuckDB worker threads (default: cores)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    known = known_from_files(args.experiments) if args.experiments else None
    with sigterm_unwinds():  # SIGTERM stops as cleanly as Ctrl-C: the store is closed
        store = DuckDBStore(
            args.db,
            max_pending_bytes=int(args.max_pending_mb * (1 << 20)),
            segment_bytes=int(args.segment_mb * (1 << 20)),
            log_dir=args.log_dir,
            load_interval_s=args.load_interval,
        )
        try:
            if args.duckdb_threads:
                with store.lock:
                    store.connection.execute(f"SET threads = {int(args.duckdb_threads)}")
            app = create_collector(
                store,
                (lambda: known) if known is not None else None,
                limits=Limits(max_events=args.max_events),
                on_shutdown=store.close,  # at the ASGI lifespan shutdown, the clean stop
            )
            from splitlab.server.gctune import quiet_gc

            quiet_gc()  # full GC passes were the p99 under load (splitlab.server.gctune)
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
        finally:
            store.close()  # if uvicorn never got to its shutdown


if __name__ == "__main__":
    main()
