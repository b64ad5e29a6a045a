"""A small client for ClickHouse's HTTP interface (port 8123), enough for the event store.

ClickHouse 18.16 (what Debian bookworm ships) has no server-side query parameters, so values
are written into the SQL as literals by :func:`literal`, which quotes strings the way the
ClickHouse lexer reads them (backslash escapes inside single quotes) and refuses anything that
is not a string, a bool or a finite number. Results come back as ``JSONCompact`` with 64-bit
integers unquoted.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import msgspec

from splitlab.store.clickhouse.dialect import Dialect
from splitlab.store.errors import StoreError

logger = logging.getLogger(__name__)

#: ClickHouse's default ``max_query_size``: the longest query text it parses, in bytes.
MAX_QUERY_SIZE = 262_144
_PARAM = re.compile(r"\$(\w+)")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ClickHouseError(StoreError):
    """ClickHouse could not be reached or refused a statement (HTTP 503 to our clients)."""

    code = "clickhouse_unavailable"


class _Result(msgspec.Struct):
    meta: list[dict[str, str]]
    data: list[list[Any]]


_RESULT = msgspec.json.Decoder(_Result)


def literal(value: object) -> str:
    """`value` as a ClickHouse SQL literal (strings escaped; numbers must be finite; a list
    or tuple as an array of its items' literals)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ClickHouseError(f"query value {value!r}: expected a finite number")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise ClickHouseError(f"query value {value!r}: expected a string, a number or a list")


def identifier(name: str) -> str:
    """`name` checked to be a plain identifier (database names are put into SQL unquoted)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ClickHouseError(f"database name {name!r}: expected letters, digits and '_'")
    return name


def bind(sql: str, params: Mapping[str, object]) -> str:
    """Replace each ``$name`` in `sql` by the literal of ``params[name]``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ClickHouseError(f"query parameter ${name}: no value given")
        return literal(params[name])

    return _PARAM.sub(one, sql)


class ClickHouseClient:
    """Statements over HTTP to one ClickHouse server (thread-safe, keeps connections open)."""

    def __init__(
        self, url: str, *, user: str = "default", password: str = "", timeout: float = 60.0
    ):
        parts = urlsplit(url)
        if parts.username is not None:
            # ClickHouse refuses X-ClickHouse-* headers together with HTTP basic auth (401,
            # "Invalid authentication"), so an address written http://user:secret@host:8123
            # gives its credentials to the headers (the arguments win when set) and is kept
            # without them, which also keeps them out of every message naming the address.
            user = unquote(parts.username) if user == "default" else user
            password = password or unquote(parts.password or "")
            url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        self.url = url.rstrip("/") + "/"
        headers = {"X-ClickHouse-User": user}
        if password:
            headers["X-ClickHouse-Key"] = password
        self._http = httpx.Client(headers=headers, timeout=timeout)
        self._dialect: Dialect | None = None

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT)."""
        self._post({}, bind(sql, params or {}).encode())

    def query(
        self,
        sql: str,
        params: Mapping[str, object] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[list[Any]]]:
        """Run a SELECT (with the server `settings` given, e.g. ``readonly``); its column
        names and rows."""
        result = self._select(sql, params, settings)
        return [column["name"] for column in result.meta], result.data

    def _select(
        self, sql: str, params: Mapping[str, object] | None, extra: Mapping[str, str] | None
    ) -> _Result:
        body = (bind(sql, params or {}) + "\nFORMAT JSONCompact").encode()
        settings = {"output_format_json_quote_64bit_integers": "0", **(extra or {})}
        if len(body) >= MAX_QUERY_SIZE:
            # An allocation table of thousands of clusters, bound as array literals, makes a
            # query longer than the server parses by default (max_query_size, 256 KiB).
            settings["max_query_size"] = str(len(body) + 1)
        return _RESULT.decode(self._post(settings, body))

    def insert(self, table: str, rows: bytes, settings: Mapping[str, str] | None = None) -> None:
        """Insert newline-delimited JSON objects (``JSONEachRow``) into `table`."""
        if rows:
            self._post(
                {**(settings or {}), "query": f"INSERT INTO {table} FORMAT JSONEachRow"}, rows
            )

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            return self._http.get(self.url + "ping").status_code == 200
        except httpx.HTTPError:
            return False

    def _post(self, settings: dict[str, str], body: bytes) -> bytes:
        try:
            return self._send({**self.dialect().settings, **settings}, body)
        except ClickHouseError:
            self._dialect = None  # asked again next time: the server may have been upgraded
            raise

    def _send(self, settings: dict[str, str], body: bytes) -> bytes:
        try:
            response = self._http.post(self.url, params=settings, content=body)
        except httpx.HTTPError as exc:
            raise ClickHouseError(f"ClickHouse at {self.url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            message = response.text.strip().splitlines()[0] if response.text.strip() else ""
            raise ClickHouseError(
                f"ClickHouse at {self.url} answered {response.status_code}: {message}"
            )
        return response.content

    def dialect(self) -> Dialect:
        """The server's :class:`~.dialect.Dialect` (asked once, before the first statement)."""
        if self._dialect is None:
            text = self._send({}, b"SELECT version()").decode().strip()
            try:
                self._dialect = Dialect.parse(text)
            except ValueError as exc:
                raise ClickHouseError(f"ClickHouse at {self.url}: {exc}") from exc
        return self._dialect

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def columns(self, sql: str, settings: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """The column names and ClickHouse types of the SELECT `sql` (run it with ``LIMIT 0``
        to read no row)."""
        result = self._select(sql, None, settings)
        return [(column["name"], column["type"]) for column in result.meta]
