"""The two hot routes as plain ASGI handlers: ``POST /v1/assign`` and ``POST /v1/events``.

They bypass FastAPI's dependency injection and pydantic (the request is decoded and checked
by msgspec in one pass) but answer in the same shapes and the same error shape, check the same
keys, and are documented in the same OpenAPI document (:mod:`splitlab.server.openapi`).

``POST /v1/assign`` body: ``{"unitId": "u-1", "experimentId": "exp-1"?, "attributes": {...}?,
"timestamp": 1767268800000?}``; without ``experimentId`` the unit is assigned in every
experiment the server knows. The answer is ``{"unitId": "u-1", "assignments":
[{"experimentId", "variant", "reason"}, ...]}``; a running switchback's assignment adds
``period``, ``periodStart`` and ``switchbackUnit``, and the answer then says which time it used
(``timestamp``, ``timeSource``: ``request`` when the body gave one, else ``server``). An
unknown experiment is not an HTTP error: its assignment says ``"reason": "unknown_experiment"``,
as the SDKs do. Assignment is not exposure: the caller sends the exposure event when it
actually shows the variant.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from splitlab.assignment.switchback import MAX_TIME_MS
from splitlab.config.models import EXPERIMENT_ID_PATTERN
from splitlab.server.auth import authorize, bearer
from splitlab.server.context import ServerContext
from splitlab.server.errors import ApiError, error_body, jsonable, malformed_json
from splitlab.server.gateway import ASGIApp, Message, Receive, Scope, Send, send_json
from splitlab.tracking.events import MIN_TIMESTAMP_MS, expected_words
from splitlab.tracking.jsontext import json_problem

logger = logging.getLogger(__name__)

#: The same rule as a definition's ``experimentId``.
EXPERIMENT_ID = re.compile(EXPERIMENT_ID_PATTERN)

AttributeValue = str | int | float | bool | None

#: What ``timestamp`` must be, in the 422 that refuses one.
TIMESTAMP_RULE = (
    f"epoch milliseconds (an integer) from {MIN_TIMESTAMP_MS} (2000-01-01T00:00:00Z) "
    f"to {MAX_TIME_MS}"
)


class AssignRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Body of ``POST /v1/assign``."""

    unit_id: str
    experiment_id: str | None = None
    attributes: dict[str, AttributeValue] | None = None
    timestamp: (
        Annotated[
            int,
            msgspec.Meta(
                description="The time to assign at, in epoch milliseconds (switchback "
                "experiments); default: the server's clock."
            ),
        ]
        | None
    ) = None


class AssignmentOut(msgspec.Struct, rename="camel", omit_defaults=True):
    """One experiment's answer for the unit (``period``... for a running switchback only)."""

    experiment_id: str
    variant: str | None
    reason: str
    period: Annotated[int, msgspec.Meta(description="Switchback: the period index.")] | None = None
    period_start: (
        Annotated[int, msgspec.Meta(description="Switchback: the period's start, epoch ms.")] | None
    ) = None
    switchback_unit: (
        Annotated[str, msgspec.Meta(description="Switchback: the unit (absent: global).")] | None
    ) = None
    holdout_id: (
        Annotated[str, msgspec.Meta(description="The running holdout covering the experiment.")]
        | None
    ) = None
    holdout_variant: (
        Annotated[
            str,
            msgspec.Meta(description="The unit's variant of that holdout (its first: held out)."),
        ]
        | None
    ) = None


class AssignResponse(msgspec.Struct, rename="camel", omit_defaults=True):
    """Answer of ``POST /v1/assign``."""

    unit_id: str
    assignments: list[AssignmentOut]
    timestamp: (
        Annotated[int, msgspec.Meta(description="The time used, epoch ms (see timeSource).")] | None
    ) = None
    time_source: (
        Annotated[
            Literal["request", "server"],
            msgspec.Meta(
                description="Where the time came from: the body's timestamp or the server's "
                "clock. Present when the body gave a timestamp or a switchback was assigned."
            ),
        ]
        | None
    ) = None


_decode_assign = msgspec.json.Decoder(AssignRequest).decode
_encode = msgspec.json.Encoder().encode
_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+|\.\.\.)\]")


def located(body: bytes, path: str) -> tuple[str, Any]:
    """The offending value at msgspec's `path` (``.unitId``) in `body`, and its full path.

    msgspec writes a mapping's key as ``[...]``; the key is found again as the first entry
    whose value is a list or an object (what an attribute may not be). The value is made
    JSON-safe (``Infinity`` as text); it is None only when the body cannot be read back.
    """
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return "$" + path, None
    where = "$"
    for step in _STEP.finditer(path):
        key, index = step.group("key"), step.group("index")
        if key is not None and isinstance(data, dict) and key in data:
            where, data = f"{where}.{key}", data[key]
        elif index == "..." and isinstance(data, dict):
            bad = [k for k, v in data.items() if isinstance(v, dict | list)]
            if not bad:
                return "$" + path, None
            where, data = f"{where}.{bad[0]}", data[bad[0]]
        elif index not in (None, "...") and isinstance(data, list) and int(index) < len(data):
            where, data = f"{where}[{index}]", data[int(index)]
        else:
            return "$" + path, None
    return where, jsonable(data)


def decode_error(exc: msgspec.DecodeError, body: bytes = b"") -> ApiError:
    """A msgspec decoding failure as a 422 (wrong shape) or 400 (not JSON) with a JSON path."""
    problem = json_problem(body)
    if problem is not None:
        return malformed_json(problem)
    match = _PATH.match(str(exc))
    message = match.group("message") if match else str(exc)
    if isinstance(exc, msgspec.ValidationError):
        path, value = located(body, (match.group("path") or "") if match else "")
        detail = {"path": path, "value": value, "expected": expected_words(message)}
        return ApiError(422, "the request body is not valid", code="validation_error",
                        details=[detail])  # fmt: skip
    detail = {"path": "$", "value": None, "expected": f"a JSON object ({message})"}
    return ApiError(400, "the request body is not valid JSON", code="malformed_json",
                    details=[detail])  # fmt: skip


def assign_body(ctx: ServerContext, body: bytes) -> bytes:
    """Answer one assign request body (raises :class:`ApiError`)."""
    try:
        request = _decode_assign(body)
    except RecursionError:
        raise malformed_json(json_problem(body) or "nests too deeply") from None
    except msgspec.DecodeError as exc:
        raise decode_error(exc, body) from None
    if not 0 < len(request.unit_id) <= 256:
        raise ApiError(422, "the request body is not valid", code="validation_error", details=[
            {"path": "$.unitId", "value": request.unit_id[:64],
             "expected": "a unit id of 1 to 256 characters"}])  # fmt: skip
    timestamp = request.timestamp
    if timestamp is not None and not MIN_TIMESTAMP_MS <= timestamp <= MAX_TIME_MS:
        raise ApiError(422, "the request body is not valid", code="validation_error", details=[
            {"path": "$.timestamp", "value": timestamp, "expected": TIMESTAMP_RULE}])  # fmt: skip
    attributes = request.attributes
    service = ctx.view.service
    # One time for every experiment of the request: the body's, else one clock reading.
    at = service.now_ms() if timestamp is None else timestamp
    if request.experiment_id is None:
        results = list(service.assign_all(request.unit_id, attributes, at=at).values())
    else:
        if EXPERIMENT_ID.match(request.experiment_id) is None:
            raise ApiError(422, "the request body is not valid", code="validation_error", details=[
                {"path": "$.experimentId", "value": request.experiment_id[:140],
                 "expected": "an experiment id: 1 to 128 letters, digits, '.', '_', ':' or '-'"}
            ])  # fmt: skip
        results = [service.assign(request.unit_id, request.experiment_id, attributes, at=at)]
    timed = False
    assignments = []
    for a in results:
        if a.holdout_id is not None:  # never a switchback: holdouts do not cover them
            assignments.append(AssignmentOut(a.experiment_id, a.variant, a.reason.value,
                                             holdout_id=a.holdout_id,
                                             holdout_variant=a.holdout_variant))  # fmt: skip
        elif a.period is None:
            assignments.append(AssignmentOut(a.experiment_id, a.variant, a.reason.value))
        else:
            timed = True
            assignments.append(AssignmentOut(a.experiment_id, a.variant, a.reason.value,
                                             a.period, a.period_start_ms, a.switchback_unit))  # fmt: skip
    if timestamp is not None:
        return _encode(AssignResponse(request.unit_id, assignments, timestamp, "request"))
    if timed:
        return _encode(AssignResponse(request.unit_id, assignments, at, "server"))
    return _encode(AssignResponse(request.unit_id, assignments))


async def _send_error(send: Send, exc: ApiError) -> None:
    """Answer `exc` in the one error shape, with its headers (``WWW-Authenticate``, ...)."""
    headers = [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    body = error_body(exc.status, exc.code, exc.message, exc.details())
    await send_json(send, exc.status, body, headers)


def assign_app(ctx: ServerContext) -> ASGIApp:
    """The ASGI handler of ``POST /v1/assign`` (the gateway hands it the whole body)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            authorize(ctx.keys, bearer(scope["headers"]), admin=False)
            message = await receive()
            answer = assign_body(ctx, message.get("body", b""))
        except ApiError as exc:
            await _send_error(send, exc)
            return
        await send_json(send, 200, answer)

    return app


def events_app(ctx: ServerContext, collector: ASGIApp) -> ASGIApp:
    """``POST /v1/events``: check the key, hand over to the collector, count what it accepts."""
    count_accepted = _accepted_counter(ctx)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            authorize(ctx.keys, bearer(scope["headers"]), admin=False)
        except ApiError as exc:
            await _send_error(send, exc)
            return
        status = 0

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 200 <= status < 300:
                count_accepted(message.get("body", b""))
            await send(message)

        await collector(scope, receive, send_counting)

    return app


class _Accepted(msgspec.Struct):
    accepted: int = 0


def _accepted_counter(ctx: ServerContext) -> Callable[[bytes], None]:
    decode = msgspec.json.Decoder(_Accepted).decode

    def count(body: bytes) -> None:
        try:
            ctx.metrics.add_events_accepted(decode(body).accepted)
        except msgspec.DecodeError:
            logger.warning("the collector's answer has no 'accepted' count; not counted")

    return count
