"""SQL metrics on the ClickHouse store: the user's query as rows of the summary.

A metric with ``sql`` whose catalog source is ``{"type": "clickhouse"}`` reads its rows
``(unit_id, timestamp, value)`` from the user's query, run on the store's own server. The
query is checked (:func:`checked_query`: :func:`splitlab.config.sql_checks.check_query`'s
rules, plus no ``SETTINGS`` or ``FORMAT`` clause), then embedded as a subquery of the summary:
its rows join the metric events (:func:`with_sql_rows`) under an empty event name, which no
event can have, marked by the metric's number ``src``, so the per-unit aggregation applies to
them exactly as to events: after the unit's first exposure, within ``windowHours``, up to the
cut-off, and in the CUPED pre-period. The rows are read as
:mod:`splitlab.store.sql_sources` reads other sources' rows: unit id as text, timestamp
(``DateTime``, whole seconds) in epoch milliseconds, a NULL value counting 1.

Every query that carries user SQL is sent with :data:`READ_ONLY` settings (``readonly=1``:
the server refuses any write, any ``SET`` and any table function, whatever the parser let
through) and a time limit.

The columns are checked before each look by a read-only ``LIMIT 0`` run of the query
(:func:`dry_run`, the rules of :func:`splitlab.store.sql_sources.column_problems`), so a
query that no longer fits is refused naming the metric rather than failing inside the
summary. ``files`` and ``postgresql`` sources are refused on this store
(:func:`source_problems`): their rows would have to be shipped to the server at every look
(docs/sql-metrics.md, "Limits").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import sqlglot
from sqlglot import exp

from splitlab.config.errors import ConfigError, Problem
from splitlab.config.models import Experiment, Metric
from splitlab.config.sources import ClickHouseSource, SourceCatalog
from splitlab.config.sql_checks import check_query, quote, sql_metric_paths
from splitlab.store.clickhouse.connection import Connection
from splitlab.store.clickhouse.http import ClickHouseError
from splitlab.store.sql_sources import Column, column_problems, strip_query

#: The settings of every query that carries user SQL: the server refuses writes, ``SET``
#: and table functions, and stops the query after ``max_execution_time`` seconds.
READ_ONLY = {"readonly": "1", "max_execution_time": "600"}
#: ``$name`` is how the store's own SQL marks its parameters (:func:`.http.bind`).
_PARAM = re.compile(r"\$\w")


def sql_metrics(experiment: Experiment) -> list[tuple[str, Metric]]:
    """The metrics of `experiment` defined in SQL, with their JSON paths, once per name."""
    seen: set[str] = set()
    out: list[tuple[str, Metric]] = []
    for path, metric in sql_metric_paths(experiment):
        if metric.name not in seen:
            seen.add(metric.name)
            out.append((path, metric))
    return out


def _refuse(path: str, value: object, expected: str) -> ConfigError:
    return ConfigError([Problem(path, value, expected)])


def source_problems(experiment: Experiment, catalog: SourceCatalog | None) -> list[Problem]:
    """Problems with the sources of `experiment`'s SQL metrics on the ClickHouse store: each
    must name a ``clickhouse`` source of `catalog` (any metric type the definition allows
    ``sql`` on: conversion, continuous, retention, time to event)."""
    problems: list[Problem] = []
    names = {} if catalog is None else catalog.sources
    for path, metric in sql_metrics(experiment):
        assert metric.sql is not None
        source = names.get(metric.sql.source)
        where = f"{path}.sql.source"
        if source is None:
            known = ", ".join(sorted(names)) or "none: no catalog given (--sources)"
            problems.append(Problem(where, metric.sql.source, f"a source of the catalog ({known})"))
        elif not isinstance(source, ClickHouseSource):
            problems.append(
                Problem(
                    where,
                    metric.sql.source,
                    f"a 'clickhouse' source: metric {metric.name!r} reads a {source.type!r} "
                    "source, which the ClickHouse store does not run (supported: 'clickhouse' "
                    "sources on the ClickHouse store; 'files' and 'postgresql' sources on the "
                    "DuckDB store)",
                )
            )
    return problems


def checked_query(path: str, query: str) -> str:
    """`query` (of the metric at JSON path `path`) checked for the ClickHouse store and
    returned without trailing semicolons; :class:`ConfigError` naming the path otherwise.

    The checks of :func:`splitlab.config.sql_checks.check_query` (one read-only SELECT, no
    table function), then what embedding it in the summary needs: no ``SETTINGS`` or
    ``FORMAT`` clause, and no ``$`` before a word character (the store's parameters)."""
    where = f"{path}.sql.query"
    problems = check_query(query, ClickHouseSource(type="clickhouse"), where)
    if problems:
        raise ConfigError(problems)
    tree = sqlglot.parse_one(query, read="clickhouse")
    for node in tree.walk():
        if isinstance(node, exp.Select) and (node.args.get("settings") or node.args.get("format")):
            raise _refuse(where, quote(query), "a SELECT without SETTINGS or FORMAT clauses")
    found = _PARAM.search(query)
    if found:
        raise _refuse(
            where,
            quote(query),
            f"no '$' before a letter, digit or '_' (found {found.group()!r}: reserved for "
            "the store's parameters; write e.g. concat('$', 'USD'))",
        )
    return strip_query(query)


def _base_type(name: str) -> str:
    """`name` without its ``Nullable(...)`` and ``LowCardinality(...)`` wrappers, in any order."""
    while name.endswith(")") and name.startswith(("Nullable(", "LowCardinality(")):
        name = name[name.index("(") + 1 : -1]
    return name


def column_kind(type_name: str) -> str:
    """A ClickHouse type as a :class:`~splitlab.store.sql_sources.Column` kind. ``DateTime``
    (of any time zone: the time zone only changes how it prints) is the one timestamp type;
    18.16 has no ``DateTime64``, and a newer server's is refused rather than cut to seconds."""
    base = _base_type(type_name)
    if base == "DateTime" or base.startswith("DateTime("):
        return "timestamp"
    if base == "String" or base.startswith("FixedString("):
        return "text"
    if base.startswith(("Int", "UInt")):
        return "integer"
    if base.startswith(("Float", "Decimal")):
        return "number"
    return "null" if base == "Nothing" else "other"


def dry_run(where: str, query: str, client: Connection) -> list[Problem]:
    """The problems of the SQL metric at JSON path `where` (``$.metrics.primary``) whose
    query is `query`, found as :func:`splitlab.store.sql_sources.dry_run` finds them: the
    checks of :func:`checked_query`, then a read-only ``LIMIT 0`` run on the server of
    `client` and the same column rules (:func:`~splitlab.store.sql_sources.column_problems`)."""
    try:
        text = checked_query(where, query)
    except ConfigError as exc:
        return exc.problems
    try:
        described = client.columns(f"SELECT * FROM (\n{text}\n) LIMIT 0", READ_ONLY)
    except ClickHouseError as exc:  # the server's own words: syntax, unknown table, ...
        expected = f"a query that runs on the ClickHouse server; it failed: {_words(exc)}"
        return [Problem(f"{where}.sql.query", quote(query), expected)]
    columns = [Column(name, kind, column_kind(kind)) for name, kind in described]
    return column_problems(columns, f"{where}.sql.query")


_SERVER_WORDS = re.compile(r"DB::Exception: (.*?)(?:, e\.what\(\) = DB::Exception)?$")


def _words(exc: ClickHouseError) -> str:
    """The server's message in `exc`, without the URL and the exception's class names."""
    found = _SERVER_WORDS.search(str(exc))
    return found.group(1) if found else str(exc)


def check_sql_metrics(
    experiment: Experiment, catalog: SourceCatalog | None, client: Connection
) -> None:
    """Every check of `experiment`'s SQL metrics for the ClickHouse store (sources, the
    query's text, its columns on the server); :class:`ConfigError` listing the problems."""
    problems = source_problems(experiment, catalog)
    if not problems:
        for path, metric in sql_metrics(experiment):
            assert metric.sql is not None
            problems += dry_run(path, metric.sql.query, client)
    if problems:
        raise ConfigError(problems)


def row_match(metric: Metric, index: int, event_param: str) -> str:
    """The condition that picks metric `index`'s rows from :func:`with_sql_rows`' events."""
    if metric.sql is None:
        return f"metric = ${event_param}"
    return f"src = {index + 1}"


def _rows(metric: Metric, index: int) -> str:
    """The rows of SQL metric number `index` as metric events (columns of :func:`with_sql_rows`),
    read as :mod:`splitlab.store.sql_sources` reads them: the unit id as text, the timestamp
    as epoch milliseconds, a NULL value as 1 (a metric event without a value); a row with a
    NULL unit id or timestamp is dropped."""
    assert metric.sql is not None
    ts = "toInt64(toUInt32(assumeNotNull(q_t))) * 1000"
    return f"""SELECT toString(assumeNotNull(q_u)) AS unit_id, '' AS metric,
    toFloat64(ifNull(q_v, 1)) AS value, {ts} AS ts, $exp AS event_experiment,
    toUInt16({index + 1}) AS src
  FROM (SELECT unit_id AS q_u, timestamp AS q_t, value AS q_v FROM (
{strip_query(metric.sql.query)}
  ))
  WHERE isNotNull(q_u) AND isNotNull(q_t) AND {ts} <= $cutoff"""


def with_sql_rows(
    events: str, metrics: Sequence[Metric], only: Collection[int] | None = None
) -> str:
    """`events` (columns ``unit_id, metric, value, ts, event_experiment``) with the rows of
    the SQL metrics among `metrics` (`only`: those of these numbers) added, and a column
    ``src`` (0 for events, the metric's number plus one for its rows); `events` unchanged
    when no such metric is defined in SQL."""
    parts = [
        _rows(m, i)
        for i, m in enumerate(metrics)
        if m.sql is not None and (only is None or i in only)
    ]
    if not parts:
        return events
    union = "\n  UNION ALL\n  ".join(
        [
            "SELECT unit_id, metric, value, ts, event_experiment, toUInt16(0) AS src "
            f"FROM {events}",
            *parts,
        ]
    )
    return f"(\n  {union}\n)"


def has_sql(experiment: Experiment) -> bool:
    """Whether any metric of `experiment` is defined in SQL."""
    return any(metric.sql is not None for _, metric in experiment.metrics.all())
