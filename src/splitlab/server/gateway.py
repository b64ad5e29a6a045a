"""The outermost ASGI layer: body limits, request metrics and the two hot routes.

Every HTTP request passes through :class:`Gateway`, which

1. refuses a body over the route's limit with a 413 in the one error shape (from the
   ``Content-Length`` header when there is one, otherwise while reading),
2. answers CORS preflights of the SDK routes and adds CORS headers to their answers
   (:mod:`splitlab.server.cors`), and sends ``GET /v1/config/stream`` to its server-sent
   events handler (:mod:`splitlab.server.stream`),
3. sends ``POST /v1/assign`` and ``POST /v1/events`` straight to their lean handlers (plain
   ASGI + msgspec: no FastAPI dependency resolution or pydantic on the hot path), and
   everything else to the FastAPI application, reading every ``/v1`` body as JSON whatever
   its ``Content-Type`` (:func:`as_json`) and refusing one that is not JSON (not UTF-8, a
   lone surrogate, nested too deeply, a syntax error) with ``400 malformed_json`` before any
   route sees it,
4. counts the request and its latency in :class:`~splitlab.server.metrics.ServerMetrics`,
   labelled by route template (never the raw path, to keep the label set bounded).

Non-HTTP scopes (lifespan, websocket) pass straight through to the FastAPI application.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.server.cors import (
    SDK_PATHS,
    CorsPolicy,
    answer_preflight,
    is_preflight,
    origin_of,
    with_cors,
)
from splitlab.server.errors import error_body, malformed_json
from splitlab.server.metrics import ServerMetrics
from splitlab.tracking.jsontext import json_problem

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


#: The server-sent events route (:mod:`splitlab.server.stream`), served outside FastAPI.
STREAM_PATH = "/v1/config/stream"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Largest request bodies accepted, in bytes."""

    default: int = 1 << 20
    assign: int = 64 << 10
    events: int = 8 << 20


class BodyTooLarge(Exception):
    """Raised inside :func:`read_body` when the body passes its limit."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read a whole request body, refusing more than `limit` bytes."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` once, then defers to the real one (for disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_json(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete JSON answer."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def as_json(scope: Scope) -> Scope:
    """`scope` with its body declared JSON, whatever ``Content-Type`` the client sent.

    The API speaks only JSON, as ``/v1/assign`` and ``/v1/events`` do, which read the body as
    JSON whatever its type; ``curl -d`` sends ``application/x-www-form-urlencoded`` (and some
    clients send no type at all), which FastAPI would otherwise hand to validation as raw
    bytes. A body that is not JSON is then refused as malformed JSON, in the error shape.
    """
    headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
    for name, value in scope["headers"]:
        if name == b"content-type" and value.split(b";")[0].strip().lower().endswith(b"json"):
            return scope
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class Gateway:
    """Dispatch, limit and measure every HTTP request (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ServerMetrics,
        *,
        assign: ASGIApp,
        events: ASGIApp,
        stream: ASGIApp | None = None,
        limits: BodyLimits | None = None,
        cors: CorsPolicy | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.stream = stream
        self.cors = cors or CorsPolicy()
        self.limits = limits = limits or BodyLimits()
        self._hot: dict[str, tuple[ASGIApp, int]] = {
            "/v1/assign": (assign, limits.assign),
            "/v1/events": (events, limits.events),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        path: str = scope["path"]

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        hot = self._hot.get(path)
        reply: Send = send_and_record
        target, limit = hot if hot is not None else (self.app, self.limits.default)
        route = path if hot is not None else None
        if path in SDK_PATHS:
            origin = origin_of(scope)
            if origin is not None and is_preflight(scope):
                route = path
                try:
                    await answer_preflight(self.cors, origin, reply)
                finally:
                    self.metrics.observe_request(
                        "OPTIONS", route, status, time.perf_counter() - started
                    )
                return
            if self.cors.enabled:
                reply = with_cors(self.cors, origin, reply)
        try:
            if path == STREAM_PATH and self.stream is not None:
                route = path
                if scope["method"] != "GET":
                    await self._not_allowed(reply, scope["method"], path, b"GET")
                else:
                    await self.stream(scope, receive, reply)
            elif hot is not None and scope["method"] != "POST":
                await self._not_allowed(reply, scope["method"], path)
            elif self._declared_too_large(scope, limit):
                await self._too_large(reply, limit)
            elif scope["method"] in {"POST", "PUT", "PATCH"}:
                try:
                    body = await read_body(receive, limit)
                except BodyTooLarge:
                    await self._too_large(reply, limit)
                else:
                    problem = None
                    if hot is None and body and path.startswith("/v1/"):
                        scope = as_json(scope)
                        problem = json_problem(body)
                    if problem is not None:
                        await self._not_json(reply, problem)
                    else:
                        await target(scope, replay(body, receive), reply)
            else:
                await target(scope, receive, reply)
        finally:
            if route is None:
                matched = scope.get("route")
                route = getattr(matched, "path", None) or "<unmatched>"
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - started
            )

    @staticmethod
    def _declared_too_large(scope: Scope, limit: int) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value) > limit
                except ValueError:
                    return False
        return False

    @staticmethod
    async def _not_allowed(send: Send, method: str, path: str, allow: bytes = b"POST") -> None:
        body = error_body(405, "method_not_allowed", f"{method} is not allowed on {path}")
        await send_json(send, 405, body, [(b"allow", allow)])

    @staticmethod
    async def _not_json(send: Send, problem: str) -> None:
        exc = malformed_json(problem)
        await send_json(send, 400, error_body(400, exc.code, exc.message, exc.details()))

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        body = error_body(
            413,
            "payload_too_large",
            f"the request body is larger than this route accepts ({limit} bytes)",
            [{"path": "$", "value": None, "expected": f"a body of at most {limit} bytes"}],
        )
        await send_json(send, 413, body, [(b"connection", b"close")])
