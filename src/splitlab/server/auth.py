"""Who is calling: API keys in ``Authorization: Bearer <key>``, dashboard sessions in a cookie.

Two kinds of key (:mod:`splitlab.server.keys`): ``admin`` may do everything; ``sdk`` may read
the SDK config, assign and send events, nothing else. No key, or one that is malformed,
unknown or revoked, is a 401; a valid key of the wrong kind is a 403.

The dashboard signs in with an admin key once (a login form); the server then sets a session
cookie holding ``<key id>.<expiry>.<HMAC-SHA256 of both under a per-process random secret>``
(HttpOnly, SameSite=Strict), so the key itself is never stored in the browser. Sessions end
when the key is revoked, at expiry, or when the server restarts (a new secret).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

from splitlab.server.errors import ApiError
from splitlab.server.keys import ApiKey, KeyKind, KeyStore

SESSION_COOKIE = "splitlab_session"
SESSION_SECONDS = 12 * 3600


def bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer`` header among raw ASGI headers."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def authorize(keys: KeyStore, token: str | None, *, admin: bool) -> ApiKey:
    """The key behind `token`, or an :class:`ApiError` 401 (no valid key) / 403 (wrong kind)."""
    key = keys.verify(token)
    if key is None:
        message = (
            "an API key is required: send 'Authorization: Bearer <key>'"
            if not token
            else "the API key is not valid (malformed, unknown or revoked)"
        )
        raise ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})
    if admin and key.kind is not KeyKind.ADMIN:
        raise ApiError(403, "this route needs an admin key; an SDK key may only read the "
                       "config, assign and send events")  # fmt: skip
    return key


class Sessions:
    """Signed dashboard session cookies (see the module docstring)."""

    def __init__(self, keys: KeyStore, secret: bytes | None = None) -> None:
        self._keys = keys
        self._secret = secret or secrets.token_bytes(32)

    def issue(self, key: ApiKey, now: float | None = None) -> str:
        """A cookie value for `key`, valid for :data:`SESSION_SECONDS`."""
        expiry = int((now if now is not None else time.time()) + SESSION_SECONDS)
        payload = f"{key.key_id}.{expiry}"
        return f"{payload}.{self._sign(payload)}"

    def check(self, cookie: str | None, now: float | None = None) -> ApiKey | None:
        """The active admin key behind a session cookie, or None."""
        if not cookie or cookie.count(".") != 2:
            return None
        key_id, expiry, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{key_id}.{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < (now if now is not None else time.time()):
            return None
        key = self._keys.active(key_id)
        return key if key is not None and key.kind is KeyKind.ADMIN else None

    def csrf_token(self, cookie: str) -> str:
        """The token a dashboard form must carry for the session `cookie`."""
        return self._sign("csrf:" + cookie)

    def check_csrf(self, cookie: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(cookie), token)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
