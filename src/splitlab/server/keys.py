"""API keys: admin keys (may change experiments) and SDK keys (config, assign, events).

A key is ``sl_<kind>_<key id>_<secret>``: the key id (12 hex digits) is public and names the
key in listings and revocation; the secret is 32 bytes from :func:`secrets.token_bytes`
(256 bits), base64url-encoded. Only the SHA-256 of the whole key is stored.

Why a bare SHA-256 and no salt or slow KDF: salts and deliberately slow functions (bcrypt,
scrypt, Argon2) protect *human* passwords, which are few enough to guess and often shared
between accounts. A 256-bit uniformly random secret cannot be guessed however fast the hash
is (2^256 candidates), and no two keys share a value, so a precomputed table or a salt buys
nothing; a slow KDF would only make every request slower. The stored hash is compared with
:func:`hmac.compare_digest`, whose time does not depend on where two digests first differ.

Keys live in the store's DuckDB file (table ``api_keys``); the active ones are cached in
memory by the :class:`KeyStore` that created or loaded them, so checking a key costs one
SHA-256 and no query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from splitlab.errors import SplitlabError

__all__ = ["ApiKey", "ApiKeyError", "KeyKind", "KeyStore", "NewKey", "hash_key"]


class KeyKind(StrEnum):
    """What a key may do: ``admin`` everything, ``sdk`` read the config, assign, send events."""

    ADMIN = "admin"
    SDK = "sdk"


class ApiKeyError(SplitlabError):
    """A key operation that cannot be done (unknown key id, bad kind)."""

    code = "key_error"

    def __init__(self, message: str, code: str = "key_error") -> None:
        super().__init__(message)
        self.code = code


_KEY_RE = re.compile(r"^sl_(admin|sdk)_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_KEY_ID_RE = re.compile(r"^[0-9a-f]{12}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    key_hash VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
)
"""


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as listed (never the secret)."""

    key_id: str
    kind: KeyKind
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def principal(self) -> str:
        """Who acted, as the audit log records it."""
        return f"{self.kind.value}-key:{self.key_id}" + (f" ({self.name})" if self.name else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "keyId": self.key_id,
            "kind": self.kind.value,
            "name": self.name,
            "createdAt": self.created_at.isoformat(),
            "revokedAt": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key: ``secret`` is shown once and never stored."""

    key: ApiKey
    secret: str


class KeyStore:
    """Create, list, revoke and check keys kept in a DuckDB connection shared under `lock`."""

    def __init__(self, connection: Any, lock: threading.Lock | threading.RLock) -> None:
        self._db = connection
        self._lock = lock
        with self._lock:
            self._db.execute(_SCHEMA)
        self._active: dict[str, tuple[str, ApiKey]] = {}
        self.reload()

    def reload(self) -> None:
        """Re-read the active keys from the database into the in-memory cache."""
        active = {}
        for key in self.list(include_revoked=False):
            with self._lock:
                row = self._db.execute(
                    "SELECT key_hash FROM api_keys WHERE key_id = ?", [key.key_id]
                ).fetchone()
            active[key.key_id] = (str(row[0]), key)
        self._active = active

    def create(self, kind: KeyKind | str, name: str = "") -> NewKey:
        """Make a new key of `kind`; the returned secret is the only copy."""
        kind = _kind(kind)
        key_id = secrets.token_hex(6)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        full = f"sl_{kind.value}_{key_id}_{secret}"
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, NULL)",
                [key_id, kind.value, name, hash_key(full), now],
            )
        key = ApiKey(key_id, kind, name, now.replace(tzinfo=UTC), None)
        self._active = {**self._active, key_id: (hash_key(full), key)}
        return NewKey(key, full)

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        """Every key (or every active key), oldest first."""
        query = "SELECT key_id, kind, name, created_at, revoked_at FROM api_keys"
        if not include_revoked:
            query += " WHERE revoked_at IS NULL"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at, key_id").fetchall()
        return [
            ApiKey(
                str(r[0]),
                KeyKind(r[1]),
                str(r[2]),
                r[3].replace(tzinfo=UTC),
                r[4].replace(tzinfo=UTC) if r[4] is not None else None,
            )
            for r in rows
        ]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key `key_id` at once.

        Raise :class:`ApiKeyError` when there is no such key, or when it is the last active
        admin key (code ``last_admin_key``): nobody could manage the server after that.
        """
        if not _KEY_ID_RE.match(key_id):
            raise ApiKeyError(
                f"key id: expected 12 hexadecimal digits (got {key_id!r})", "unknown_key"
            )
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._lock:
            self._refuse_last_admin(key_id)
            row = self._db.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ? "
                "RETURNING key_id",
                [now, key_id],
            ).fetchone()
        if row is None:
            raise ApiKeyError(
                f"key id: no key {key_id!r} (see `splitlab keys list`)", "unknown_key"
            )
        self._active = {k: v for k, v in self._active.items() if k != key_id}
        return next(k for k in self.list() if k.key_id == key_id)

    def _refuse_last_admin(self, key_id: str) -> None:
        """Raise when `key_id` is the only active admin key (revoking it locks everyone out)."""
        row = self._db.execute(
            "SELECT count(*) FILTER (WHERE key_id = ?), count(*) FROM api_keys "
            "WHERE kind = 'admin' AND revoked_at IS NULL",
            [key_id],
        ).fetchone()
        if row is not None and row[0] == 1 and row[1] == 1:
            raise ApiKeyError(
                f"key id: {key_id!r} is the last active admin key; revoking it would leave "
                "no key that can manage the server. Create another admin key first "
                "(POST /v1/keys or `splitlab keys create --kind admin`), then revoke this one",
                "last_admin_key",
            )

    def active(self, key_id: str) -> ApiKey | None:
        """The active key with id `key_id`, or None."""
        entry = self._active.get(key_id)
        return entry[1] if entry is not None else None

    def verify(self, presented: str | None) -> ApiKey | None:
        """The active key that `presented` is, or None (malformed, unknown, revoked, wrong)."""
        if not presented:
            return None
        match = _KEY_RE.match(presented)
        if match is None:
            return None
        entry = self._active.get(match.group(2))
        if entry is None:
            return None
        stored, key = entry
        if key.kind.value != match.group(1):
            return None
        return key if hmac.compare_digest(stored, hash_key(presented)) else None


def _kind(kind: KeyKind | str) -> KeyKind:
    try:
        return KeyKind(kind)
    except ValueError:
        raise ApiKeyError(
            f"kind: expected 'admin' or 'sdk' (got {kind!r})", "invalid_key_kind"
        ) from None
