"""What the store and its loader need from a ClickHouse client, and opening one by address.

``http://...`` opens :class:`.http.ClickHouseClient` (a server over its HTTP interface);
``chdb:PATH`` opens :class:`.chdb_backend.ChdbClient` (the engine in-process, data under
PATH; ``chdb::memory:`` keeps nothing). Both speak the same SQL (:mod:`.dialect` holds what
differs between versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from splitlab.store.clickhouse.chdb_backend import PREFIX, ChdbClient
from splitlab.store.clickhouse.dialect import Dialect
from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError


class Connection(Protocol):
    """Statements to one ClickHouse (values bound by :func:`.http.bind`)."""

    url: str

    def execute(self, sql: str, params: Mapping[str, object] | None = None) -> None: ...

    def query(
        self,
        sql: str,
        params: Mapping[str, object] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[list[Any]]]: ...

    def columns(
        self, sql: str, settings: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]: ...

    def insert(
        self, table: str, rows: bytes, settings: Mapping[str, str] | None = None
    ) -> None: ...

    def dialect(self) -> Dialect: ...

    def close(self) -> None: ...


def connect(url: str, *, user: str = "default", password: str = "") -> Connection:
    """A client for `url` (see the module's notes); nothing is contacted yet."""
    if url.startswith(PREFIX):
        path = url[len(PREFIX) :]
        if not path:
            raise ClickHouseError(f"ClickHouse address {url!r}: expected chdb:PATH")
        return ChdbClient(path)
    return ClickHouseClient(url, user=user, password=password)
