"""One JSON error shape for every failure of the HTTP API.

Every error answer, whatever raised it (a route, FastAPI's own request validation, the
router's 404 / 405, the body-size limit, the key check or a library error), has this body::

    {"error": {"status": 422, "code": "validation_error",
               "message": "the request body is not valid",
               "details": [{"path": "$.unitId", "value": null, "expected": "a string"}]}}

``details`` is a list (empty when there is nothing more to say). Validation problems name the
JSON path of the offending value (``$.a.b[0]`` in the body, ``query.look`` / ``path.id`` for
parameters), the value and what was expected.

    SplitlabError                 (splitlab.errors)
    └── ApiError                  an HTTP failure with a status and a code
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from splitlab.errors import SplitlabError

logger = logging.getLogger(__name__)

JSON = "application/json"

#: HTTP status -> default code, for errors raised by the framework itself.
DEFAULT_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

#: Library error code -> HTTP status (anything not listed is a 400: the request asked for
#: something the library refused).
LIBRARY_STATUS: dict[str, int] = {
    "invalid_definition": 422,
    "invalid_sums": 422,
    "condition_error": 422,
    "invalid_transition": 409,
    "invalid_toggle": 409,
    "look_not_allowed": 409,
    "look_limit_reached": 409,
    "evaluation_error": 409,
    "invalid_cutoff": 422,
    "invalid_schedule": 422,
    "duplicate_experiment": 409,
    "not_found": 404,
    "unknown_experiment": 404,
    "unknown_key": 404,
    "last_admin_key": 409,
    "invalid_key_kind": 422,
    "store_error": 503,
    "store_unavailable": 503,
    "overloaded": 503,
    "database_unavailable": 503,
    "clickhouse_unavailable": 503,
}


class ApiError(SplitlabError):
    """An HTTP failure with a status, a machine-readable code and optional details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.message = message
        self._details = list(details)
        self.headers = headers or {}

    def details(self) -> list[dict[str, Any]]:
        return list(self._details)


def malformed_json(problem: str) -> ApiError:
    """The 400 for a body that is not JSON; `problem` says why ("is not UTF-8 text ...")."""
    detail = {"path": "$", "value": None, "expected": f"a JSON body (this one {problem})"}
    return ApiError(400, f"the request body {problem}", code="malformed_json", details=[detail])


def error_body(
    status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()
) -> bytes:
    """The error shape as JSON bytes."""
    payload = {
        "error": {"status": status, "code": code, "message": message, "details": list(details)}
    }
    return json.dumps(payload, default=str).encode()


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    """The error shape as a Starlette response."""
    return Response(error_body(status, code, message, details), status, headers, media_type=JSON)


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Turn pydantic / FastAPI validation errors into ``{path, value, expected}`` entries."""
    out = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        out.append(
            {
                "path": _path(loc),
                "value": None if err.get("type") == "missing" else jsonable(err.get("input")),
                "expected": _expected(str(err.get("msg", "a valid value"))),
            }
        )
    return out


def _path(loc: tuple[Any, ...]) -> str:
    where, rest = (
        (loc[0], loc[1:])
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}
        else ("body", loc)
    )
    out = "$" if where == "body" else str(where)
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _expected(msg: str) -> str:
    for prefix in ("Input should be ", "Value error, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if msg == "Field required":
        return "a value (this field is required)"
    return msg[0].lower() + msg[1:] if msg else "a valid value"


def jsonable(value: Any) -> Any:
    """`value` if JSON can carry it, else JSON-safe text (never a Python repr such as b'..')."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return str(value)
    return value


def _library_status(exc: SplitlabError) -> int:
    return LIBRARY_STATUS.get(exc.code, 400)


#: The methods a route of the API may take (HEAD comes with GET).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of `app` takes on `path` (Starlette's 405 names only one)."""
    allowed = []
    for method in METHODS:
        scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
        if any(route.matches(scope)[0] is Match.FULL for route in app.router.routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure FastAPI can see through :func:`error_response`."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details(), exc.headers)

    async def on_library_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SplitlabError)
        status = _library_status(exc)
        return error_response(status, exc.code, str(exc).splitlines()[0], exc.details())

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route matches {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        code = DEFAULT_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, message, (), headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        broken = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if broken:
            why = str((broken[0].get("ctx") or {}).get("error", "not JSON"))
            detail = {"path": "$", "value": None, "expected": f"a JSON body ({why})"}
            return error_response(
                400, "malformed_json", "the request body is not valid JSON", [detail]
            )
        details = validation_details(exc.errors())
        return error_response(422, "validation_error", "the request is not valid", details)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(SplitlabError, on_library_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
