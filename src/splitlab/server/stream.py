"""``GET /v1/config/stream``: server-sent events that say when the SDK config changed.

A browser's ``EventSource`` cannot send headers, so the SDK key may come in the query string
(``?key=<sdk key>``) as well as in ``Authorization: Bearer``. The answer is
``text/event-stream`` (https://html.spec.whatwg.org/multipage/server-sent-events.html)::

    retry: 3000

    event: config
    data: {"etag":"\\"3f0c...\\""}

    : keep-alive

``etag`` is exactly the ``ETag`` header ``GET /v1/config`` answers with (quotes included), so
a client compares the two as they are and fetches the config when they differ. A ``config``
event is sent on connect and again within moments of every change of the served config
(:mod:`splitlab.server.notify` wakes the stream; nothing polls the database); a comment line
every :data:`KEEP_ALIVE_SECONDS` keeps proxies from closing an idle connection. At most
``ConfigNotifier.max_streams`` streams are open at once (503 ``too_many_streams`` with
``Retry-After`` beyond that), and every stream ends when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from urllib.parse import parse_qs

from splitlab.server.auth import authorize, bearer
from splitlab.server.context import ServerContext
from splitlab.server.errors import ApiError, error_body
from splitlab.server.gateway import ASGIApp, Receive, Scope, Send, send_json
from splitlab.server.notify import Subscription, TooManyStreams

logger = logging.getLogger(__name__)

#: Seconds between two keep-alive comments on an idle stream.
KEEP_ALIVE_SECONDS = 15.0
#: What the browser waits before reconnecting a dropped stream, in milliseconds.
RETRY_MS = 3000
#: ``Retry-After`` of the 503 when every stream slot is taken, in seconds.
FULL_RETRY_AFTER_S = 10

_KEY = re.compile(r"(?i)(key=)[^&\s]*")


def redact(text: str) -> str:
    """`text` with every ``key=...`` value replaced (for log lines that hold a query string)."""
    return _KEY.sub(r"\1<redacted>", text)


class RedactKeys(logging.Filter):
    """Redact ``key=...`` in log records (uvicorn's access log line holds the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "key=" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(a) if isinstance(a, str) and "key=" in a else a for a in record.args
            )
        return True


def install_log_redaction() -> None:
    """Redact keys in uvicorn's access and error logs (once per logger)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in target.filters):
            target.addFilter(RedactKeys())


def query_key(scope: Scope) -> str | None:
    """The ``key`` query parameter, or None."""
    raw = scope.get("query_string", b"")
    if not raw:
        return None
    values = parse_qs(raw.decode("latin-1")).get("key")
    return values[0] if values else None


def config_event(etag: str) -> bytes:
    """One ``config`` event naming `etag`."""
    return b"event: config\ndata: " + json.dumps({"etag": etag}).encode() + b"\n\n"


def config_stream_app(ctx: ServerContext, keep_alive: float = KEEP_ALIVE_SECONDS) -> ASGIApp:
    """The ASGI handler of ``GET /v1/config/stream`` (see the module docstring)."""
    notifier = ctx.config_changes

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            token = bearer(scope["headers"]) or query_key(scope)
            authorize(ctx.keys, token, admin=False)
            if notifier.closed:
                raise ApiError(503, "the server is stopping; reconnect to another instance",
                               code="unavailable", headers={"Retry-After": "3"})  # fmt: skip
            try:
                subscription = notifier.subscribe()
            except TooManyStreams:
                raise ApiError(
                    503,
                    f"too many open config streams ({notifier.max_streams}); poll "
                    "/v1/config with If-None-Match, or retry later",
                    code="too_many_streams",
                    details=[
                        {
                            "path": "$",
                            "value": notifier.max_streams,
                            "expected": "a free stream slot",
                        }
                    ],
                    headers={"Retry-After": str(FULL_RETRY_AFTER_S)},
                ) from None
        except ApiError as exc:
            headers = [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
            body = error_body(exc.status, exc.code, exc.message, exc.details())
            await send_json(send, exc.status, body, headers)
            return
        try:
            await _serve(subscription, receive, send, keep_alive)
        finally:
            notifier.unsubscribe(subscription)

    async def _serve(
        subscription: Subscription, receive: Receive, send: Send, keep_alive: float
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
                ],
            }
        )
        sent = ctx.view.config.etag
        first = f"retry: {RETRY_MS}\n\n".encode() + config_event(sent)
        await send({"type": "http.response.body", "body": first, "more_body": True})
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            while not notifier.closed:
                changed = asyncio.ensure_future(subscription.changed.wait())
                done, _ = await asyncio.wait(
                    {changed, gone}, timeout=keep_alive, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done:
                    changed.cancel()
                    return
                if changed not in done:
                    changed.cancel()
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n",
                                "more_body": True})  # fmt: skip
                    continue
                subscription.changed.clear()
                etag = ctx.view.config.etag
                if etag != sent and not notifier.closed:
                    sent = etag
                    await send({"type": "http.response.body", "body": config_event(etag),
                                "more_body": True})  # fmt: skip
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone

    return app


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
