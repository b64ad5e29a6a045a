"""Pure ASGI middleware (FastAPI, Starlette, any ASGI framework).

    app.add_middleware(EventTrackingMiddleware, tracking=core)

Only ``http`` scopes are tracked; ``websocket`` scopes pass through untouched. At the
``lifespan`` shutdown, which an ASGI server (uvicorn, hypercorn, gunicorn's uvicorn worker)
runs on SIGTERM or SIGINT once the requests in flight have finished, the tracking client is
closed: it delivers what is pending within its ``close_timeout`` and spools the rest. An
application that does not speak the lifespan protocol gets it answered by the middleware, so
the hook works there too. :class:`CloseOnShutdown` is the same hook alone, for apps tracked
through another adapter (Django's ASGI handler). The request's context is current (a contextvar) while the application runs, also
in sync endpoints that Starlette runs in a thread pool (the context is copied there), and is
available as ``request.state.splitlab``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from splitlab.tracking.context import activate, deactivate
from splitlab.tracking.middleware.common import RequestInfo, TrackingCore, parse_cookies
from splitlab.tracking.middleware.request_metrics import start_timer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Closeable(Protocol):
    """Anything with ``close()``: a :class:`~splitlab.tracking.client.TrackingClient`."""

    def close(self) -> None: ...


logger = logging.getLogger(__name__)


def _request_info(scope: Scope) -> RequestInfo:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "cookie":
            cookies.append(value)
        headers.setdefault(name, value)
    return RequestInfo(
        method=scope.get("method", "GET"),
        path=scope.get("path", ""),
        headers=headers,
        cookies=parse_cookies("; ".join(cookies)),
        native=scope,
    )


class EventTrackingMiddleware:
    """Assigns each HTTP request's unit, logs exposures and makes ``current()`` work."""

    def __init__(self, app: ASGIApp, *, tracking: TrackingCore) -> None:
        self.app = app
        self.tracking = tracking

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan_closing(self.app, scope, receive, send, self.tracking.close)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = self.tracking.begin(_request_info(scope))
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.tracking.response_headers(context)
        ]
        scope.setdefault("state", {})["splitlab"] = context
        timer = start_timer(self.tracking, context)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if timer is not None:
                    timer.status = int(message.get("status", 200))
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)
            if (
                timer is not None
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
            ):
                timer.response_complete()  # the last chunk of a streamed body included

        token = activate(context)
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:  # a cancelled task (client gone) is not a server error
            if timer is not None:
                timer.raised = True
            raise
        finally:
            deactivate(token)
            if timer is not None:
                timer.finish()


class CloseOnShutdown:
    """Closes ``closeable`` (a tracking client) at the ASGI lifespan shutdown of ``app``.

    For ASGI apps that track through another adapter, such as Django's ASGI handler with
    :class:`~splitlab.tracking.middleware.django.DjangoTrackingMiddleware`::

        application = CloseOnShutdown(get_asgi_application(), client)

    Every other scope goes to ``app`` unchanged.
    """

    def __init__(self, app: ASGIApp, closeable: Closeable) -> None:
        self.app = app
        self.closeable = closeable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan_closing(self.app, scope, receive, send, self.closeable.close)
            return
        await self.app(scope, receive, send)


async def lifespan_closing(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, close: Callable[[], None]
) -> None:
    """Run ``app``'s lifespan, calling ``close`` (in a thread) before shutdown is reported done.

    An app that does not speak the lifespan protocol (returns at once, or raises before it
    answered anything, as Django's ASGI handler does) gets it answered here, so the shutdown
    still calls ``close``.
    """
    received: list[str] = []
    answered: list[str] = []

    async def receive_noted() -> Message:
        message = await receive()
        received.append(message["type"])
        return message

    async def send_after_close(message: Message) -> None:
        answered.append(message["type"])
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            await asyncio.to_thread(close)
        await send(message)

    try:
        await app(scope, receive_noted, send_after_close)
    except Exception:
        if answered:  # the app speaks lifespan and failed in it: the server reports that
            raise
        logger.debug("the application does not speak the ASGI lifespan; answering it here")
    if answered:
        return
    if "lifespan.startup" in received:
        await send({"type": "lifespan.startup.complete"})
    while "lifespan.shutdown" not in received:
        message = await receive()
        received.append(message["type"])
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
    await asyncio.to_thread(close)
    await send({"type": "lifespan.shutdown.complete"})
