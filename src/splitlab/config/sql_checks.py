"""Checking a SQL metric's query before anything runs it (pure: parsing only, no I/O).

A query must be exactly one read-only ``SELECT`` (``WITH``, ``UNION``, ``INTERSECT`` and
``EXCEPT`` allowed) in its source's dialect: DuckDB's for a ``files`` source, PostgreSQL's for
``postgresql``, ClickHouse's for ``clickhouse``. Refused anywhere in it: statements that write
or change the session (``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``, ``CREATE``, ``DROP``,
``ALTER``, ``COPY``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``PRAGMA``, ``SET``, ``CALL`` ...),
``SELECT ... INTO``, row locks (``FOR UPDATE``) and query parameters. Per source:

* ``files``: every table is one of the source's table names or a ``WITH`` name, unqualified;
  no table functions at all (``read_csv``, ``read_parquet``, ``glob``, ``query`` ...).
* ``clickhouse``: no table functions (``url``, ``file``, ``s3``, ``remote``, ``cluster`` ...).
* ``postgresql``: a few server functions that read files or change settings are refused; the
  database role the source connects as is what really limits it (docs/sql-metrics.md).

This is the first of two walls: the runners (:mod:`splitlab.store.sql_sources`) also run the
query where it cannot write or read anything else, should a query slip past the parser.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from splitlab.config.errors import Problem
from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.config.sources import (
    ClickHouseSource,
    FilesSource,
    FileTable,
    PostgresSource,
    Source,
    SourceCatalog,
)

#: The metric types a ``sql`` block may feed (their per-unit values come from rows
#: ``(unit_id, timestamp, value)`` as events do).
SQL_METRIC_TYPES = frozenset(
    {MetricType.CONVERSION, MetricType.CONTINUOUS, MetricType.RETENTION, MetricType.TIME_TO_EVENT}
)

#: sqlglot's name of each source type's dialect.
DIALECTS = {"files": "duckdb", "postgresql": "postgres", "clickhouse": "clickhouse"}

_EXPECTED_QUERY = "one read-only SELECT statement returning unit_id, timestamp, value"

#: Nodes that write, change the session or leave the query: refused wherever they appear.
_FORBIDDEN: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Insert, "INSERT"),
    (exp.Update, "UPDATE"),
    (exp.Delete, "DELETE"),
    (exp.Merge, "MERGE"),
    (exp.Create, "CREATE"),
    (exp.Drop, "DROP"),
    (exp.Alter, "ALTER"),
    (exp.TruncateTable, "TRUNCATE"),
    (exp.Copy, "COPY"),
    (exp.Attach, "ATTACH"),
    (exp.Detach, "DETACH"),
    (exp.Install, "INSTALL"),
    (exp.Pragma, "PRAGMA"),
    (exp.Set, "SET"),
    (exp.Use, "USE"),
    (exp.Command, "commands"),
    (exp.Transaction, "transaction statements"),
    (exp.Commit, "COMMIT"),
    (exp.Rollback, "ROLLBACK"),
    (exp.Describe, "DESCRIBE"),
    (exp.Into, "SELECT ... INTO"),
    (exp.Lock, "row locks (FOR UPDATE / FOR SHARE)"),
    (exp.Placeholder, "query parameters"),
    (exp.Parameter, "query parameters"),
)

#: PostgreSQL functions that read server files or change settings (superuser-only or not).
_POSTGRES_FUNCTIONS = frozenset(
    {
        "set_config",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "lo_get",
        "pg_reload_conf",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "dblink",
        "dblink_exec",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "txid_current",
        "nextval",
        "setval",
    }
)


def quote(text: str, limit: int = 80) -> str:
    """A short one-line excerpt of SQL for a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def check_query(
    query: str,
    source: Source,
    path: str,
    tables: Iterable[str] = (),
    *,
    source_rules: bool = True,
) -> list[Problem]:
    """The problems of `query` for `source` (empty: accepted); `path` is the query's JSON path
    (``$.metrics.secondary[0].sql.query``). `tables`: for a ``files`` source, its table names
    (default: the source's own). Without `source_rules` only the syntax and the statement
    rules are checked (in the source's dialect), not its tables and functions."""
    dialect = DIALECTS[source.type]
    try:
        with _quiet_parser():
            statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        return [Problem(path, quote(query), f"{_EXPECTED_QUERY} in {dialect} SQL ({_why(exc)})")]
    if len(statements) != 1:
        expected = f"exactly one SQL statement (found {len(statements)})"
        return [Problem(path, quote(query), expected)]
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        what = _forbidden_name(tree)
        expected = (
            f"a SELECT statement, not {what}"
            if what is not None
            else "a SELECT statement (starting with SELECT, FROM or WITH)"
        )
        return [Problem(path, quote(query), expected)]
    problems: list[Problem] = []
    for node in tree.walk():
        name = _forbidden_name(node)
        if name is not None:
            found = quote(node.sql(dialect=dialect))
            problems.append(Problem(path, found, f"a read-only SELECT (no {name})"))
    if not source_rules:
        return problems
    if isinstance(source, FilesSource):
        allowed = set(tables) or set(source.tables)
        problems += _check_tables(tree, path, dialect, allowed, "the source's tables")
    elif isinstance(source, ClickHouseSource):
        problems += _check_tables(tree, path, dialect, None, "tables of the ClickHouse server")
    elif isinstance(source, PostgresSource):
        for call in tree.find_all(exp.Func):
            fname = _function_name(call)
            if fname in _POSTGRES_FUNCTIONS:
                found = quote(call.sql(dialect=dialect))
                problems.append(
                    Problem(
                        path,
                        found,
                        f"no call of {fname}() (it reads files, changes the "
                        "server's state or waits)",
                    )
                )
    return problems


def _check_tables(
    tree: exp.Expr, path: str, dialect: str, allowed: set[str] | None, what: str
) -> list[Problem]:
    """Table functions refused; with `allowed`, only those names (or a WITH name) unqualified."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    problems: list[Problem] = []
    for table in tree.find_all(exp.Table):
        found = quote(table.sql(dialect=dialect))
        if not isinstance(table.this, exp.Identifier):
            problems.append(Problem(path, found, f"a table name ({what}), not a table function"))
            continue
        if allowed is None:
            continue
        if table.db or table.catalog:
            problems.append(
                Problem(path, found, f"an unqualified table name, one of {_listed(allowed)}")
            )
        elif table.name not in allowed and table.name not in ctes:
            problems.append(Problem(path, found, f"one of the source's tables: {_listed(allowed)}"))
    return problems


def _listed(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "(none)"


def _function_name(call: exp.Func) -> str:
    if isinstance(call, exp.Anonymous):
        return str(call.name).lower()
    return str(call.sql_name()).lower()


def _forbidden_name(node: exp.Expr) -> str | None:
    for kind, name in _FORBIDDEN:
        if isinstance(node, kind):
            if isinstance(node, exp.Command):
                return str(node.this).upper() if node.this else name
            return name
    return None


@contextmanager
def _quiet_parser() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to a raw command (``LOAD x``): the problem is
    reported to the user instead."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _why(exc: ParseError | TokenError) -> str:
    """The parser's complaint in a user's words: where it is and what is wrong there, without
    sqlglot's class names and token dumps."""
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        desc = re.sub(
            r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", str(first.get("description", "syntax error"))
        )
        desc = re.sub(
            r" but got <Token token_type: TokenType\.SENTINEL\b.*", " but the query ended", desc
        )
        desc = re.sub(r" but got <Token [^>]*?\btext: ([^,>]*)[^>]*>", r" but got '\1'", desc)
        incomplete = re.fullmatch(r"Required keyword: '\w+' missing for (\w+)", desc)
        if incomplete:
            desc = f"the {incomplete.group(1).upper()} clause is incomplete"
        elif desc == "Invalid expression / Unexpected token":
            desc = "unexpected text"
        elif desc.startswith("Expecting "):
            desc = f"expected {desc.removeprefix('Expecting ')!r}"
        else:
            desc = desc[:1].lower() + desc[1:]
        line, col = first.get("line"), first.get("col")
        near = str(first.get("highlight") or "").strip()
        at = f" at line {line}, column {col}" if line is not None else ""
        return f"syntax error{at}" + (f" near {near!r}" if near else "") + f": {desc}"
    if isinstance(exc, TokenError):
        return "syntax error: a quote or a bracketed name is not closed, or a character is not SQL"
    return str(exc).splitlines()[0] if str(exc) else "syntax error"


def check_sql_types(raw: Mapping[str, Any]) -> list[Problem]:
    """The definition-level rule, on the raw camelCase mapping (read defensively): ``sql``
    only on conversion, continuous, retention and time_to_event metrics, and not in the designs
    whose data is read per batch or cell (switchback, bandit, canary)."""
    problems: list[Problem] = []
    metrics = raw.get("metrics")
    if not isinstance(metrics, Mapping):
        return problems
    design = raw.get("design")
    kind = design.get("type") if isinstance(design, Mapping) else None
    for path, metric in _raw_metrics(metrics):
        sql = metric.get("sql")
        if sql is None:
            continue
        kind_of = metric.get("type")
        if isinstance(kind_of, str) and kind_of not in {t.value for t in SQL_METRIC_TYPES}:
            problems.append(
                Problem(
                    f"{path}.sql",
                    sql,
                    "sql only on conversion, continuous, retention or time_to_event metrics "
                    f"(a {kind_of} metric cannot come from SQL yet)",
                )
            )
        if kind in _NO_SQL_DESIGNS:
            problems.append(
                Problem(
                    f"{path}.sql",
                    sql,
                    f"no sql metric in a {kind} design (SQL metrics are summed per unit: "
                    "designs without a design, cluster or holdout)",
                )
            )
    return problems


_NO_SQL_DESIGNS = frozenset({"switchback", "bandit", "canary"})


def _raw_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    out: list[tuple[str, Mapping[str, Any]]] = []
    primary = metrics.get("primary")
    if isinstance(primary, Mapping):
        out.append(("$.metrics.primary", primary))
    for role in ("secondary", "guardrails"):
        items = metrics.get(role)
        if isinstance(items, list):
            out += [
                (f"$.metrics.{role}[{i}]", m) for i, m in enumerate(items) if isinstance(m, Mapping)
            ]
    return out


def sql_metric_paths(experiment: Experiment) -> list[tuple[str, Metric]]:
    """Each metric with a ``sql`` block and its JSON path (``$.metrics.secondary[0]``)."""
    out: list[tuple[str, Metric]] = []
    metrics = experiment.metrics
    if metrics.primary.sql is not None:
        out.append(("$.metrics.primary", metrics.primary))
    for role, items in (("secondary", metrics.secondary), ("guardrails", metrics.guardrails)):
        out += [(f"$.metrics.{role}[{i}]", m) for i, m in enumerate(items) if m.sql is not None]
    return out


def check_sql_metrics(experiment: Experiment, catalog: SourceCatalog) -> list[Problem]:
    """Every SQL metric's problems against `catalog`: its source must be there and its query
    must pass :func:`check_query` in that source's dialect."""
    problems: list[Problem] = []
    for path, metric in sql_metric_paths(experiment):
        assert metric.sql is not None
        source = catalog.sources.get(metric.sql.source)
        if source is None:
            known = _listed(set(catalog.sources))
            expected = f"a source of the catalog: {known}"
            problems.append(Problem(f"{path}.sql.source", metric.sql.source, expected))
            continue
        problems += check_query(metric.sql.query, source, f"{path}.sql.query")
    return problems


def check_sql_syntax(experiment: Experiment) -> list[Problem]:
    """Without a catalog (the source's dialect unknown): each SQL metric's query must be one
    read-only SELECT (:func:`check_query` without the source's table and function rules) in at
    least one of the dialects, DuckDB, PostgreSQL or ClickHouse; the DuckDB problems are
    reported when none accepts it."""
    problems: list[Problem] = []
    dialects: tuple[Source, ...] = (
        FilesSource(type="files", tables={"t": FileTable(path="-")}),
        PostgresSource(type="postgresql", dsn="-"),
        ClickHouseSource(type="clickhouse"),
    )
    for path, metric in sql_metric_paths(experiment):
        assert metric.sql is not None
        where = f"{path}.sql.query"
        results = [check_query(metric.sql.query, s, where, source_rules=False) for s in dialects]
        if all(results):
            problems += results[0]
    return problems
