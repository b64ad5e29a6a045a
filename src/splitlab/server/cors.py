"""CORS for the SDK routes, so a browser page on an allowed origin can call them.

Only the routes a browser SDK calls take part: ``GET /v1/config``, ``GET /v1/config/stream``,
``POST /v1/assign`` and ``POST /v1/events``. Admin routes and the dashboard never answer with
CORS headers, so no other site's page can read them.

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an
  allowed origin is answered 204 with ``Access-Control-Allow-Origin: <that origin>``,
  ``Access-Control-Allow-Methods: GET, POST``, ``Access-Control-Allow-Headers:
  Authorization, Content-Type, If-None-Match`` and ``Access-Control-Max-Age``; from any
  other origin it is refused 403 ``cors_origin_not_allowed`` in the one error shape, with
  no CORS headers (the browser then never sends the request).
- Any other request to an SDK route from an allowed origin gets
  ``Access-Control-Allow-Origin: <origin>`` and ``Access-Control-Expose-Headers: ETag, Retry-After``;
  every answer of an SDK route says ``Vary: Origin`` once CORS is configured, so a cache
  never hands one origin's answer to another.

Allowed origins come from ``splitlab serve --cors-origin`` (repeatable) or
``SPLITLAB_CORS_ORIGINS`` (comma-separated); ``*`` allows every origin (discouraged: any
site could then read the config and send events with a page's SDK key).
The CORS protocol: https://fetch.spec.whatwg.org/#http-cors-protocol.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from splitlab.errors import SplitlabError
from splitlab.server.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

#: The routes a browser SDK calls; the only ones CORS applies to.
SDK_PATHS = frozenset({"/v1/config", "/v1/config/stream", "/v1/assign", "/v1/events"})

#: Seconds a browser may cache a preflight answer.
MAX_AGE_SECONDS = 600

ENV = "SPLITLAB_CORS_ORIGINS"


#: A browser's serialised origin: scheme, host (a name, an IPv4 or a bracketed IPv6 address)
#: and an optional port; no path, query or user info (RFC 6454 section 6.2).
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s/:?#@\[\]]+)(?P<port>:[0-9]{1,5})?"
)


class CorsOriginError(SplitlabError):
    """A configured CORS origin that no browser can ever send."""

    code = "invalid_cors_origin"

    def __init__(self, value: str) -> None:
        super().__init__(
            f"--cors-origin / {ENV}: {value!r} is not an origin; expected a scheme, a host and "
            "an optional port as a browser sends them, such as https://www.example.com or "
            "http://localhost:3000 (no path), or '*'"
        )


def parse_origins(values: Iterable[str]) -> tuple[str, ...]:
    """Origins from options and the environment (comma-separated), trimmed, without a
    trailing slash, scheme and host lower-cased (browsers send them so), empty entries
    dropped, each kept once in order. Anything a browser could never send as its ``Origin``
    (a bare host, a path) raises :class:`CorsOriginError`: it would refuse every page."""
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            origin = part.strip().rstrip("/")
            if not origin:
                continue
            if origin not in ("*", "null"):
                match = _ORIGIN.fullmatch(origin)
                if match is None:
                    raise CorsOriginError(part.strip())
                origin = f"{match['scheme'].lower()}://{match['host'].lower()}{match['port'] or ''}"
            if origin not in found:
                found.append(origin)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may call the SDK routes from a browser."""

    origins: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def allows(self, origin: str) -> bool:
        return "*" in self.origins or origin in self.origins


def origin_of(scope: Scope) -> str | None:
    """The request's ``Origin`` header, or None."""
    for name, value in scope["headers"]:
        if name == b"origin":
            return str(value.decode("latin-1"))
    return None


def is_preflight(scope: Scope) -> bool:
    if scope["method"] != "OPTIONS":
        return False
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])


async def answer_preflight(policy: CorsPolicy, origin: str, send: Send) -> None:
    """204 with the CORS headers for an allowed origin, else 403 in the error shape."""
    if not policy.allows(origin):
        body = error_body(
            403,
            "cors_origin_not_allowed",
            "this origin may not call the API from a browser; the server's operator allows "
            "origins with 'splitlab serve --cors-origin'",
            [
                {
                    "path": "header.Origin",
                    "value": origin[:200],
                    "expected": "an origin the server allows",
                }
            ],
        )
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), (b"vary", b"Origin")]  # fmt: skip
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"Authorization, Content-Type, If-None-Match"),
                (b"access-control-max-age", str(MAX_AGE_SECONDS).encode()),
                (b"vary", b"Origin"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def with_cors(policy: CorsPolicy, origin: str | None, send: Send) -> Send:
    """`send` adding the CORS headers (allowed `origin`) and ``Vary: Origin`` to the answer."""
    allowed = origin is not None and policy.allows(origin)

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"vary"]
            varies = [v for k, v in message.get("headers", []) if k == b"vary"]
            headers.append((b"vary", b", ".join([*varies, b"Origin"])))
            if allowed and origin is not None:
                headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                headers.append((b"access-control-expose-headers", b"ETag, Retry-After"))
            message = {**message, "headers": headers}
        await send(message)

    return send_with_cors
