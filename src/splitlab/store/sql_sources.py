"""Running a SQL metric's query on its source, sandboxed, and handing back its rows as Arrow.

A query returns the columns ``unit_id``, ``timestamp`` and ``value``; the runners wrap it as

    SELECT CAST(unit_id AS text), <timestamp as epoch milliseconds>, coalesce(value, 1)
    FROM (<query>) q WHERE timestamp >= <lo> AND timestamp < <hi>

with the range as bound parameters, and return an Arrow table ``(unit_id string, ts int64,
value float64)`` that the store joins with its exposures as it does metric events.

Types (checked before the query runs, :func:`column_problems`):

* ``timestamp`` is a date-time type: TIMESTAMP without time zone is read as UTC, TIMESTAMP
  WITH TIME ZONE is converted to UTC; both are cut to whole milliseconds (floor). Numbers
  (epoch seconds or milliseconds) and dates are refused: the query converts them (DuckDB
  ``epoch_ms(ms)``, ``to_timestamp(s)``; PostgreSQL ``to_timestamp(ms / 1000.0)``), so that a
  unit mix-up (seconds or milliseconds?) cannot pass silently.
* ``value`` is a number or NULL; a NULL value counts 1, as a metric event without a value.
* ``unit_id`` is any type with a text form (text, integer, UUID): the id is compared as text
  with the ids of the exposures. Rows with a NULL unit id are dropped.

Sandboxes (the second wall after :mod:`splitlab.config.sql_checks`):

* ``files``: a fresh in-memory DuckDB per run, with one view per catalog table over its file;
  then only those files (for a glob, every file in the folder before its first wildcard and
  below) may be read, every other file system,
  network and extension access is off, and the configuration is locked, so a query cannot
  turn any of it back on. It runs at most ``timeout_s`` seconds (then it is interrupted).
* ``postgresql``: one connection per run, in a READ ONLY transaction with a
  ``statement_timeout``, the session time zone UTC; what the query may read is what the
  connecting role may read (docs/sql-metrics.md: give it a role with SELECT on those tables
  only).
"""

from __future__ import annotations

import functools
import glob as globbing
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # no stubs; see the report

from splitlab.config.errors import Problem
from splitlab.config.source_loading import SourcesError, resolve_dsn
from splitlab.config.sources import FilesSource, PostgresSource, Source
from splitlab.store.errors import StoreError

#: The Arrow schema of a query's rows as the store reads them.
ROWS_SCHEMA = pa.schema([("unit_id", pa.string()), ("ts", pa.int64()), ("value", pa.float64())])
COLUMNS = ("unit_id", "timestamp", "value")
#: Default limit on one query's run time, in seconds.
TIMEOUT_S = 300.0
#: The DuckDB sandbox's memory limit (its queries spill to no disk: temp files are off).
MEMORY_LIMIT = "2GB"
#: Every time (epoch ms) a query can return, for an unbounded range.
MIN_MS, MAX_MS = -(2**53), 2**53
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The earliest and latest date-times the range parameters can take.
_LOWEST = datetime(1, 1, 1, tzinfo=UTC)
_HIGHEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


class SqlSourceError(StoreError):
    """A SQL metric's query could not run or returned something unusable; the message names
    the metric (its JSON path) and says what was expected."""

    def __init__(self, where: str, expected: str, retry_after: float = 5.0) -> None:
        super().__init__(f"{where}: expected {expected}", retry_after)
        self.where = where
        #: What was expected, in the words of :class:`~splitlab.config.errors.Problem`.
        self.expected = expected


@dataclass(frozen=True)
class Column:
    """One column of a query's result: its name, the type as the source spells it, and its
    kind: ``text``, ``integer``, ``number``, ``timestamp``, ``null`` or ``other``."""

    name: str
    type: str
    kind: str


def time_param(ms: int) -> datetime:
    """Epoch milliseconds as a UTC date-time (clamped to the representable years)."""
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return _LOWEST if ms < 0 else _HIGHEST


def strip_query(query: str) -> str:
    """The query without trailing semicolons and blanks, ready to be wrapped."""
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def column_problems(columns: list[Column], where: str) -> list[Problem]:
    """What is wrong with a query's columns (empty: exactly ``unit_id``, a date-time
    ``timestamp`` and a numeric or NULL ``value``)."""
    names = [c.name for c in columns]
    if sorted(names) != sorted(COLUMNS):
        expected = "exactly the columns unit_id, timestamp, value (in any order; rename with AS)"
        return [Problem(where, ", ".join(names) or "no columns", expected)]
    problems = []
    by_name = {c.name: c for c in columns}
    if by_name["timestamp"].kind != "timestamp":
        found = f"timestamp of type {by_name['timestamp'].type}"
        expected = (
            "a column timestamp of a date-time type (TIMESTAMP, read as UTC, or TIMESTAMP WITH "
            "TIME ZONE); convert epoch numbers in the query"
        )
        problems.append(Problem(where, found, expected))
    if by_name["value"].kind not in {"integer", "number", "null"}:
        found = f"value of type {by_name['value'].type}"
        expected = "a column value that is a number or NULL"
        if by_name["value"].type == "text":  # PostgreSQL types a bare NULL in a SELECT as text
            expected += " (in PostgreSQL a bare NULL is text: write NULL::float8 AS value)"
        problems.append(Problem(where, found, expected))
    if by_name["unit_id"].kind in {"null", "other"}:
        found = f"unit_id of type {by_name['unit_id'].type}"
        problems.append(Problem(where, found, "a column unit_id of text or integer type"))
    return problems


# ---------------------------------------------------------------------------------- files


def _arrow_kind(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if pa.types.is_null(kind):
        return "null"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    return "other"


def _reader(path: str, fmt: str | None) -> str:
    function = "read_csv" if fmt == "csv" else "read_parquet"
    return f"{function}('{path.replace(chr(39), chr(39) * 2)}')"


def glob_folder(path: str) -> str:
    """The folder a glob's files are in: the text before its first wildcard, up to the last
    ``/`` (``/data/parts/*.parquet`` and ``/data/parts/p-*.parquet``: ``/data/parts/``)."""
    prefix = re.split(r"[*?\[]", path, maxsplit=1)[0]
    return prefix[: prefix.rfind("/") + 1] or "./"


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


@contextmanager
def files_sandbox(source: FilesSource, timeout_s: float = TIMEOUT_S) -> Iterator[Any]:
    """A locked-down in-memory DuckDB with a view per table of `source` (see the module
    docstring); closed on exit. Interrupted after `timeout_s` seconds."""
    con: Any = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    timer = threading.Timer(timeout_s, con.interrupt)
    try:
        paths: list[str] = []
        folders: list[str] = []
        for name, table in source.tables.items():
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM {_reader(table.path, table.format)}'
            )
            if _is_glob(table.path):
                folders.append(glob_folder(table.path))
            else:
                paths.append(table.path)
        settings: list[tuple[str, Any]] = [
            ("allowed_paths", paths),
            ("allowed_directories", folders),
            ("enable_external_access", False),
            ("autoload_known_extensions", False),
            ("memory_limit", MEMORY_LIMIT),
            ("TimeZone", "UTC"),
            ("lock_configuration", True),
        ]
        for setting, value in settings:
            con.execute(f"SET {setting} = {_literal(value)}")
        timer.start()
        yield con
    finally:
        timer.cancel()
        con.close()


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def _files_columns(con: Any, query: str) -> list[Column]:
    table = con.sql(f"SELECT * FROM (\n{strip_query(query)}\n) q LIMIT 0").to_arrow_table()
    return [Column(f.name, str(f.type), _arrow_kind(f.type)) for f in table.schema]


def _files_rows(con: Any, query: str, lo_ms: int, hi_ms: int) -> pa.Table:
    # The range is tested on the epoch milliseconds: comparing a TIMESTAMP column with a
    # TIMESTAMPTZ bound would convert every row through the time zone (measured about 0.4 s
    # of 1.1 s on 10M Parquet rows).
    sql = f"""SELECT * FROM (
  SELECT CAST(q.unit_id AS VARCHAR) AS unit_id, epoch_ms(q."timestamp") AS ts,
         coalesce(CAST(q.value AS DOUBLE), 1.0) AS value
  FROM (
{strip_query(query)}
  ) q
  WHERE q.unit_id IS NOT NULL
) WHERE ts >= $lo AND ts <= $hi"""
    params = {"lo": lo_ms, "hi": hi_ms}
    result = con.sql(sql, params=params).to_arrow_table()
    return result.cast(ROWS_SCHEMA)


def _missing_files(source: FilesSource) -> list[str]:
    out = []
    for table in source.tables.values():
        found = globbing.glob(table.path) if _is_glob(table.path) else [table.path]
        if not found or not all(Path(p).is_file() for p in found):
            out.append(table.path)
    return out


# ------------------------------------------------------------------------------ postgresql

#: PostgreSQL type OIDs by kind (pg_type.h): what :func:`column_problems` accepts.
_PG_KINDS = {
    1114: "timestamp",
    1184: "timestamp",
    20: "integer",
    21: "integer",
    23: "integer",
    700: "number",
    701: "number",
    1700: "number",
    25: "text",
    1043: "text",
    1042: "text",
    19: "text",
    2950: "text",
    705: "null",
}


@contextmanager
def postgres_session(
    name: str, source: PostgresSource, timeout_s: float = TIMEOUT_S
) -> Iterator[Any]:
    """A connection in a READ ONLY transaction with a statement timeout, time zone UTC;
    rolled back and closed on exit."""
    try:
        import psycopg
    except ImportError:
        raise SourcesError(
            [
                Problem(
                    f"$.sources.{name}.type",
                    "postgresql",
                    "psycopg installed for PostgreSQL sources: pip install 'splitlab[postgresql]'",
                )
            ]
        ) from None
    dsn = resolve_dsn(name, source)
    millis = max(1, int(timeout_s * 1000))
    options = f"-c default_transaction_read_only=on -c statement_timeout={millis} -c TimeZone=UTC"
    conn = psycopg.connect(dsn, connect_timeout=10, options=options, autocommit=False)
    try:
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SET LOCAL statement_timeout = {millis}")
            cursor.execute("SET LOCAL TimeZone = 'UTC'")
        yield conn
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()


def _pg_text(query: str) -> str:
    """The query with ``%`` doubled: psycopg reads ``%`` as a parameter marker."""
    return strip_query(query).replace("%", "%%")


def _postgres_columns(conn: Any, query: str) -> list[Column]:
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT * FROM (\n{_pg_text(query)}\n) q LIMIT 0", {})
        out = []
        for d in cursor.description or []:
            type_name = _pg_type_name(conn, d.type_code)
            out.append(Column(d.name, type_name, _PG_KINDS.get(d.type_code, "other")))
        return out


def _pg_type_name(conn: Any, oid: int) -> str:
    info = conn.adapters.types.get(oid)
    return str(info.name) if info is not None else f"oid {oid}"


def _postgres_rows(conn: Any, query: str, lo_ms: int, hi_ms: int) -> pa.Table:
    sql = f"""SELECT CAST(q.unit_id AS text) AS unit_id,
       floor(extract(epoch FROM q."timestamp") * 1000)::bigint AS ts,
       coalesce(CAST(q.value AS double precision), 1.0) AS value
FROM (
{_pg_text(query)}
) q
WHERE q."timestamp" >= %(lo)s AND q."timestamp" < %(hi)s AND q.unit_id IS NOT NULL"""
    ids: list[str] = []
    times: list[int] = []
    values: list[float] = []
    with conn.cursor(name="splitlab_sql_metric") as cursor:
        cursor.itersize = 50_000
        cursor.execute(sql, {"lo": time_param(lo_ms), "hi": time_param(hi_ms + 1)})
        for unit, ts, value in cursor:
            ids.append(unit)
            times.append(ts)
            values.append(value)
    return pa.table(
        [pa.array(ids, pa.string()), pa.array(times, pa.int64()), pa.array(values, pa.float64())],
        schema=ROWS_SCHEMA,
    )


# ----------------------------------------------------------------------------- dispatching


@dataclass(frozen=True)
class SqlRun:
    """One SQL metric to run: where it is in the definition (``$.metrics.primary``), its
    source (name and catalog entry) and its query."""

    where: str
    source_name: str
    source: Source
    query: str


def _session(run: SqlRun, timeout_s: float) -> Any:
    if isinstance(run.source, FilesSource):
        missing = _missing_files(run.source)
        if missing:
            raise SqlSourceError(
                f"{run.where}.sql.source",
                f"existing files for source {run.source_name!r}; none at " + ", ".join(missing),
            )
        return files_sandbox(run.source, timeout_s)
    if isinstance(run.source, PostgresSource):
        return postgres_session(run.source_name, run.source, timeout_s)
    raise SqlSourceError(
        f"{run.where}.sql.source",
        f"a files or postgresql source: {run.source_name!r} is a {run.source.type} source, "
        "read by the ClickHouse store only",
    )


def _source_errors() -> tuple[type[Exception], ...]:
    """The exception classes of the sources' drivers (psycopg is an optional extra)."""
    try:
        import psycopg
    except ImportError:
        return (duckdb.Error,)
    return (duckdb.Error, psycopg.Error)


def _guarded(run: SqlRun, action: Callable[[], Any]) -> Any:
    """`action`'s result, with a source's own errors as a :class:`SqlSourceError` naming the
    metric (a catalog problem, such as an unset ``dsnEnv`` variable, included)."""
    try:
        return action()
    except SqlSourceError:
        raise
    except SourcesError as exc:
        problem = exc.problems[0]
        raise SqlSourceError(
            f"{run.where}.sql.source",
            f"{problem.expected} (source {run.source_name!r}, {problem.path})",
        ) from None
    except duckdb.InterruptException:
        expected = f"a query that ends within the time limit of source {run.source_name!r}"
        raise SqlSourceError(f"{run.where}.sql.query", expected) from None
    except _source_errors() as exc:
        message = " ".join(str(exc).split())
        if len(message) > 400:
            message = message[:397] + "..."
        raise SqlSourceError(
            f"{run.where}.sql.query",
            f"a query that runs on source {run.source_name!r} ({run.source.type}); it failed: "
            + message,
        ) from None


def query_columns(run: SqlRun, timeout_s: float = 60.0) -> list[Column]:
    """The columns the query returns, found by running it with ``LIMIT 0``."""

    def describe() -> list[Column]:
        with _session(run, timeout_s) as session:
            if isinstance(run.source, FilesSource):
                return _files_columns(session, run.query)
            return _postgres_columns(session, run.query)

    result: list[Column] = _guarded(run, describe)
    return result


def dry_run(run: SqlRun, timeout_s: float = 60.0) -> list[Problem]:
    """The problems found by running the query with ``LIMIT 0`` and reading its columns
    (empty: it would run and its columns fit). Never raises for the query's own faults."""
    where = f"{run.where}.sql.query"
    try:
        columns = query_columns(run, timeout_s)
    except SqlSourceError as exc:
        value = run.source_name if exc.where.endswith(".source") else _short(run.query)
        return [Problem(exc.where, value, exc.expected)]
    return column_problems(columns, where)


def _short(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


@dataclass(frozen=True)
class RowsRequest:
    """A query to run and the range of timestamps wanted, ``[lo_ms, hi_ms]`` (epoch ms)."""

    run: SqlRun
    lo_ms: int
    hi_ms: int


def fetch_rows(run: SqlRun, lo_ms: int, hi_ms: int, timeout_s: float = TIMEOUT_S) -> pa.Table:
    """The query's rows with a timestamp in ``[lo_ms, hi_ms]`` (epoch ms, both included), as
    an Arrow table of :data:`ROWS_SCHEMA` (see :func:`fetch_all`)."""
    return fetch_all([RowsRequest(run, lo_ms, hi_ms)], timeout_s)[0]


def fetch_all(requests: Sequence[RowsRequest], timeout_s: float = TIMEOUT_S) -> list[pa.Table]:
    """Each request's rows (Arrow tables of :data:`ROWS_SCHEMA`, in order), running the
    queries of one source in one session (one sandbox, or one connection).

    Raises :class:`SqlSourceError` naming the metric when a query fails, its columns do not
    fit, its files are missing, its ``dsnEnv`` variable is unset or its server is down.
    Each query has `timeout_s` seconds.
    """
    out: list[pa.Table | None] = [None] * len(requests)
    groups: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.run.source_name, []).append(i)
    for indexes in groups.values():
        tables = _fetch_group([requests[i] for i in indexes], timeout_s)
        for i, table in zip(indexes, tables, strict=True):
            out[i] = table
    return [table for table in out if table is not None]


def _fetch_group(requests: list[RowsRequest], timeout_s: float) -> list[pa.Table]:
    """The rows of `requests`, all on one source, in one session."""
    first = requests[0].run

    def fetch() -> list[pa.Table]:
        with _session(first, timeout_s) as session:
            return [_guarded(r.run, functools.partial(_one, session, r)) for r in requests]

    tables: list[pa.Table] = _guarded(first, fetch)
    return tables


def _one(session: Any, request: RowsRequest) -> pa.Table:
    run = request.run
    if isinstance(run.source, FilesSource):
        columns = _files_columns(session, run.query)
    else:
        columns = _postgres_columns(session, run.query)
    problems = column_problems(columns, f"{run.where}.sql.query")
    if problems:
        first = problems[0]
        raise SqlSourceError(first.path, f"{first.expected} (got {first.value})")
    if isinstance(run.source, FilesSource):
        return _files_rows(session, run.query, request.lo_ms, request.hi_ms)
    return _postgres_rows(session, run.query, request.lo_ms, request.hi_ms)
