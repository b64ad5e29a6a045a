"""Pure ASGI middleware (FastAPI, Starlette, any ASGI framework).

    app.add_middleware(EventTrackingMiddleware, tracking=core)

Only ``http`` scopes are tracked; ``websocket`` and ``lifespan`` scopes pass through
untouched. The request's context is current (a contextvar) while the application runs, also
in sync endpoints that Starlette runs in a thread pool (the context is copied there), and is
available as ``request.state.splitlab``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from splitlab.tracking.context import activate, deactivate
from splitlab.tracking.middleware.common import RequestInfo, TrackingCore, parse_cookies

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = self.tracking.begin(_request_info(scope))
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.tracking.response_headers(context)
        ]
        scope.setdefault("state", {})["splitlab"] = context

        async def send_with_headers(message: Message) -> None:
            if extra and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        token = activate(context)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            deactivate(token)
