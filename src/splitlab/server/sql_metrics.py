"""The server's check of a definition's SQL metrics on create and update.

With a source catalog (``splitlab serve --sources FILE``), each SQL metric is checked and its
query run once with ``LIMIT 0`` on its source (:mod:`splitlab.store.sql_validation`), in a
worker thread; any problem refuses the definition with a 422 in the usual shape, naming the
metric. Without a catalog only the query's syntax is checked.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from splitlab.config import ConfigError, Experiment
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.store.sql_validation import validate_sql_metrics


async def check_sql_metrics(ctx: ServerContext, definition: Experiment) -> None:
    """Raise :class:`ConfigError` (a 422) listing the SQL metrics' problems."""
    if not any(metric.sql is not None for _, metric in definition.metrics.all()):
        return
    events = ctx.events
    if isinstance(events, DuckDBStore):
        found = await run_in_threadpool(validate_sql_metrics, definition, events.sources)
    else:  # ClickHouse: SQL metrics read its `clickhouse` sources (docs/clickhouse.md)
        found = await run_in_threadpool(events.validate_sql_metrics, definition)
    if found.problems:
        raise ConfigError(found.problems, "request body")
