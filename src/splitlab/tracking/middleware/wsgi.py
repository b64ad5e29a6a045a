"""WSGI middleware (Flask, any WSGI framework).

    app.wsgi_app = WSGITrackingMiddleware(app.wsgi_app, tracking=core)   # Flask

Each request runs in a copy of the caller's context (``contextvars.copy_context``) holding
its tracking context, and so does every step of the response iterable, so a streamed body
still sees ``current()``; threads of a threaded server never share one.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from splitlab.tracking.context import activate
from splitlab.tracking.middleware.common import RequestInfo, TrackingCore, parse_cookies
from splitlab.tracking.middleware.request_metrics import RequestTimer, start_timer

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _request_info(environ: WSGIEnvironment) -> RequestInfo:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return RequestInfo(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("PATH_INFO", "")),
        headers=headers,
        cookies=parse_cookies(headers.get("cookie")),
        native=environ,
    )


class _InContext:
    """The application's response iterable, iterated and closed inside the request context."""

    def __init__(
        self, body: Iterable[bytes], context: contextvars.Context, timer: RequestTimer | None
    ) -> None:
        self._body = body
        self._context = context
        self._timer = timer
        try:
            self._iterator: Iterator[bytes] = context.run(iter, body)
        except Exception:
            self._failed()
            raise

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self._context.run(next, self._iterator)
        except StopIteration:
            if self._timer is not None:
                self._timer.response_complete()  # a streamed body counts whole
            raise
        except Exception:
            self._failed()
            raise

    def _failed(self) -> None:
        if self._timer is not None:
            self._timer.raised = True
            self._timer.finish()

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)  # PEP 3333: call close() if it exists
            if close is not None:
                self._context.run(close)
        finally:
            if self._timer is not None:
                self._timer.finish()


class WSGITrackingMiddleware:
    """Assigns each request's unit, logs exposures and makes ``current()`` work."""

    def __init__(self, app: WSGIApplication, *, tracking: TrackingCore) -> None:
        self.app = app
        self.tracking = tracking

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        context = self.tracking.begin(_request_info(environ))
        extra = self.tracking.response_headers(context)
        environ["splitlab.context"] = context
        timer = start_timer(self.tracking, context)

        def start(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: OptExcInfo | None = None,
        ) -> Callable[[bytes], object]:
            if timer is not None:
                timer.status = _status_code(status)
            return start_response(status, [*headers, *extra], exc_info)

        run = contextvars.copy_context()
        run.run(activate, context)
        try:
            body = run.run(self.app, environ, start)
        except Exception:  # a cancelled task (client gone) is not a server error
            if timer is not None:
                timer.raised = True
                timer.finish()
            raise
        return _InContext(body, run, timer)


def _status_code(status: str) -> int | None:
    """The code of a WSGI status line (``"500 Internal Server Error"`` -> 500)."""
    head = status.split(" ", 1)[0]
    return int(head) if head.isdigit() else None
