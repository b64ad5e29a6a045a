"""Django middleware.

In ``settings.py``::

    MIDDLEWARE = [..., "splitlab.tracking.middleware.django.DjangoTrackingMiddleware"]
    SPLITLAB_TRACKING = "myproject.tracking.core"   # a TrackingCore, or its dotted path

The view sees the context through ``splitlab.tracking.current()`` and as
``request.splitlab``. Django is imported only when the middleware is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from splitlab.tracking.context import activate, deactivate
from splitlab.tracking.middleware.common import RequestInfo, TrackingCore
from splitlab.tracking.middleware.request_metrics import RequestTimer, start_timer

SETTING = "SPLITLAB_TRACKING"


def _configured_core() -> TrackingCore:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    configured = getattr(settings, SETTING, None)
    if isinstance(configured, str):
        try:
            configured = import_string(configured)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"settings.{SETTING} = {configured!r} cannot be imported: {exc}"
            ) from exc
    if not isinstance(configured, TrackingCore):
        raise ImproperlyConfigured(
            f"settings.{SETTING} must be a splitlab TrackingCore or the dotted path of one "
            f"(got {configured!r})"
        )
    return configured


class DjangoTrackingMiddleware:
    """Assigns each request's unit, logs exposures and makes ``current()`` work."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.tracking = _configured_core()

    def __call__(self, request: Any) -> Any:
        headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
        info = RequestInfo(
            method=str(request.method),
            path=str(request.path),
            headers=headers,
            cookies=dict(request.COOKIES),
            native=request,
        )
        context = self.tracking.begin(info)
        request.splitlab = context
        timer = start_timer(self.tracking, context)
        token = activate(context)
        try:
            response = self.get_response(request)
        except Exception:  # a cancelled task (client gone) is not a server error
            if timer is not None:
                timer.raised = True
                timer.finish()
            raise
        finally:
            deactivate(token)
        for name, value in self.tracking.response_headers(context):
            response[name] = value
        if timer is not None:
            timer.status = int(response.status_code)
            if getattr(response, "streaming", False):
                response.streaming_content = _timed(response.streaming_content, timer)
            else:
                timer.finish()
        return response


def _timed(chunks: Iterable[Any], timer: RequestTimer) -> Iterator[Any]:
    """A streamed body that stops the clock when it ends (or is closed early)."""
    try:
        yield from chunks
        timer.response_complete()
    except Exception:
        timer.raised = True
        raise
    finally:
        timer.finish()
