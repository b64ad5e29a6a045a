"""One PostgreSQL connection that speaks the registry's SQL: ``?`` placeholders, ``execute``
returning a cursor with ``fetchone``/``fetchall``, and ``BEGIN TRANSACTION``/``COMMIT``/
``ROLLBACK`` issued as statements (the connection runs in autocommit mode, so each statement
outside an explicit transaction commits on its own, as in DuckDB).

The registry's SQL is kept portable (no DuckDB-only functions), so the same queries run on
both databases; only the placeholders differ (psycopg uses ``%s``). A query's literal ``%``
is doubled before it is sent.

A lost connection is reopened on the next statement outside a transaction; inside a
transaction the error is raised (the transaction is lost with the connection). Every failure
to reach the server is a :class:`RegistryUnavailableError` naming the server (never the
password), which the HTTP API answers with 503.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

from splitlab.errors import SplitlabError

logger = logging.getLogger(__name__)

#: How long to wait for the server when connecting, in seconds.
CONNECT_TIMEOUT = 5


class RegistryUnavailableError(SplitlabError):
    """The PostgreSQL registry cannot be reached (down, refused, bad address or login)."""

    code = "database_unavailable"


def redact(dsn: str) -> str:
    """``dsn`` without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the --registry address"
    user = f"{info['user']}@" if info.get("user") else ""
    host, port = info.get("host") or "localhost", info.get("port") or 5432
    return f"postgresql://{user}{host}:{port}/{info.get('dbname') or ''}"


def connect(dsn: str, *, name: str = "splitlab-registry") -> psycopg.Connection[Any]:
    """A new autocommit connection named ``name`` (``application_name``, as
    ``pg_stat_activity`` shows it), or :class:`RegistryUnavailableError` saying why not."""
    try:
        return psycopg.connect(
            dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name=name
        )
    except psycopg.ProgrammingError as exc:  # a malformed address
        raise RegistryUnavailableError(f"--registry: not a PostgreSQL address ({exc})") from None
    except psycopg.OperationalError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = " ".join(lines) if lines else type(exc).__name__
        raise RegistryUnavailableError(
            f"registry {redact(dsn)}: cannot connect to PostgreSQL ({reason})"
        ) from None


def translate(query: str) -> str:
    """The registry's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    out: list[str] = []
    quoted = False
    for char in query:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


class PgConnection:
    """A DuckDB-shaped facade over one psycopg connection; hold :attr:`lock` to use it."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = connect(dsn)
        self._in_transaction = False

    def execute(self, query: str, parameters: Any = None, /) -> Any:
        """Run one statement; ``BEGIN``/``COMMIT``/``ROLLBACK`` track the transaction."""
        word = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
        with self.lock:
            if word == "ROLLBACK" and (self._conn is None or self._conn.closed):
                self._in_transaction = False  # the server dropped it with the connection
                return None
            conn = self._connection()
            try:
                if parameters is None:  # sent as written (psycopg reads no placeholders then)
                    cursor = conn.execute(query)
                else:
                    cursor = conn.execute(translate(query), parameters)
            except psycopg.OperationalError as exc:
                self._lost()
                raise RegistryUnavailableError(
                    f"registry {redact(self.dsn)}: PostgreSQL connection lost ({exc})"
                ) from None
            except psycopg.Error:
                if word in ("COMMIT", "ROLLBACK"):
                    self._in_transaction = False
                raise
            if word == "BEGIN":
                self._in_transaction = True
            elif word in ("COMMIT", "ROLLBACK"):
                self._in_transaction = False
            return cursor

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            if self._in_transaction:
                self._in_transaction = False
                raise RegistryUnavailableError(
                    f"registry {redact(self.dsn)}: PostgreSQL connection lost in a transaction"
                )
            self._conn = connect(self.dsn)
            logger.info("registry: reconnected to %s", redact(self.dsn))
        return self._conn

    def _lost(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):  # closing a dead connection
                self._conn.close()
        self._conn = None

    def ping(self) -> bool:
        """Whether the server answers now (reconnecting if need be)."""
        try:
            self.execute("SELECT 1").fetchone()
        except (RegistryUnavailableError, psycopg.Error):
            return False
        return True

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
