"""chDB: the ClickHouse engine in-process, behind the interface of :class:`.http.ClickHouseClient`.

``ClickHouseStore("chdb:/path/to/dir", log_dir)`` keeps its tables in a chDB database under
``/path/to/dir`` (``chdb::memory:`` for a throwaway in-memory one) instead of talking to a
server over HTTP. The SQL is the same text the HTTP client sends (values bound as literals by
:func:`.http.bind`), results are read from the same ``JSONCompact`` output, and inserts use the
same ``JSONEachRow`` bodies, so everything above the client (the loader, the summary SQL) runs
unchanged on the current ClickHouse engine that chDB embeds.

chDB allows one open session per data directory in a process; the store's reader and its
loader thread therefore share one session (chDB serialises its calls), counted by reference
and closed when the last user closes it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

import msgspec

from splitlab.store.clickhouse.dialect import Dialect
from splitlab.store.clickhouse.http import ClickHouseError, bind

#: The address prefix that selects chDB in :func:`splitlab.store.clickhouse.connection.connect`.
PREFIX = "chdb:"

_lock = threading.Lock()
#: Open sessions by path: (session, number of clients using it).
_sessions: dict[str, tuple[Any, int]] = {}


class _Result(msgspec.Struct):
    meta: list[dict[str, str]]
    data: list[list[Any]]


_RESULT = msgspec.json.Decoder(_Result)


def _open(path: str) -> Any:
    with _lock:
        session, users = _sessions.get(path, (None, 0))
        if session is None:
            try:
                chdb_session: Any = importlib.import_module("chdb.session")
            except ImportError as exc:  # pragma: no cover - chdb is in the lock
                raise ClickHouseError("chDB is not installed (pip install chdb)") from exc
            session = chdb_session.Session(path)
            # The HTTP client asks for these per statement; a session keeps them once set.
            version = session.query("SELECT version()", "TabSeparated").bytes().decode()
            settings = {
                "output_format_json_quote_64bit_integers": "0",
                # Allocation tables bound as array literals make long queries (.http).
                "max_query_size": str(1 << 30),
                **Dialect.parse(version.strip()).settings,
            }
            for name, value in settings.items():
                session.query(f"SET {name} = {value}")
        _sessions[path] = (session, users + 1)
        return session


def _release(path: str) -> None:
    with _lock:
        session, users = _sessions[path]
        if users > 1:
            _sessions[path] = (session, users - 1)
            return
        del _sessions[path]
    session.close()


class ChdbClient:
    """Statements to an in-process chDB database at `path` (``:memory:`` for none on disk)."""

    def __init__(self, path: str) -> None:
        self.url = PREFIX + path
        self._path = path
        self._session: Any = _open(path)
        _, rows = self.query("SELECT version()")
        self._dialect = Dialect.parse(str(rows[0][0]))

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT)."""
        self._run(bind(sql, params or {}), "CSV")

    def query(
        self,
        sql: str,
        params: Mapping[str, object] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[list[Any]]]:
        """Run a SELECT (with the `settings` given, as the query's SETTINGS clause); its
        column names and rows."""
        result = _RESULT.decode(
            self._run(_with_settings(bind(sql, params or {}), settings), "JSONCompact")
        )
        return [column["name"] for column in result.meta], result.data

    def columns(self, sql: str, settings: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """The column names and ClickHouse types of the SELECT `sql` (run it with ``LIMIT 0``
        to read no row)."""
        result = _RESULT.decode(self._run(_with_settings(sql, settings), "JSONCompact"))
        return [(column["name"], column["type"]) for column in result.meta]

    def insert(self, table: str, rows: bytes, settings: Mapping[str, str] | None = None) -> None:
        """Insert newline-delimited JSON objects (``JSONEachRow``) into `table`."""
        if rows:
            given = ", ".join(f"{k} = {v}" for k, v in (settings or {}).items())
            clause = f" SETTINGS {given}" if given else ""
            self._run(f"INSERT INTO {table}{clause} FORMAT JSONEachRow\n{rows.decode()}", "CSV")

    def ping(self) -> bool:
        """Whether the session answers."""
        try:
            self._run("SELECT 1", "CSV")
        except ClickHouseError:
            return False
        return True

    def dialect(self) -> Dialect:
        """The engine's :class:`~.dialect.Dialect`."""
        return self._dialect

    def _run(self, sql: str, fmt: str) -> bytes:
        if self._session is None:
            raise ClickHouseError(f"chDB session {self._path} is closed")
        try:
            result = self._session.query(sql, fmt)
        except RuntimeError as exc:  # chdb's ChdbError is a RuntimeError
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ClickHouseError(f"chDB at {self._path} refused a statement: {first}") from exc
        data: bytes = result.bytes()
        return data

    def close(self) -> None:
        """Stop using the session (closed when its last client closes)."""
        if self._session is not None:
            self._session = None
            _release(self._path)


def _with_settings(sql: str, settings: Mapping[str, str] | None) -> str:
    """`sql` with a trailing ``SETTINGS`` clause (chDB has no per-request settings)."""
    if not settings:
        return sql
    given = ", ".join(f"{k} = {v}" for k, v in settings.items())
    return f"{sql.rstrip().rstrip(';')}\nSETTINGS {given}"
