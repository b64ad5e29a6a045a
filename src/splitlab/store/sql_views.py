"""Fetching an experiment's SQL metric rows and registering them on the store's connection.

The embedded store runs each SQL metric's query (:mod:`splitlab.store.sql_sources`) over the
time range the summary can use: from the experiment's earliest first exposure (minus the CUPED
lookback when the metric has CUPED) to the cut-off. The rows are registered as Arrow views
named by :func:`splitlab.store.sql_metric_sql.view_name` for the summary's query, then dropped.
The queries run before the store's lock is taken, so a slow source does not hold up ingestion.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs

from splitlab.config.models import Experiment
from splitlab.config.sources import SourceCatalog
from splitlab.config.sql_checks import check_query, sql_metric_paths
from splitlab.store.sql_metric_sql import sql_numbers, view_name
from splitlab.store.sql_sources import (
    ROWS_SCHEMA,
    RowsRequest,
    SqlRun,
    SqlSourceError,
    fetch_all,
)
from splitlab.store.summary_sql import event_names, summary_metrics

_FIRST_EXPOSURE = "SELECT min(ts) FROM exposures WHERE experiment_id = $exp AND ts <= $cutoff"


@dataclass(frozen=True)
class SqlRows:
    """The rows of an experiment's SQL metrics, by view name (empty: no SQL metric)."""

    tables: dict[str, pa.Table]


def sql_runs(experiment: Experiment, catalog: SourceCatalog | None) -> dict[str, SqlRun]:
    """Each SQL metric's run, by metric name (the summary's first metric of each name).

    Raises :class:`SqlSourceError` naming the metric when there is no catalog, its source is
    not in it or its query fails the read-only checks (:func:`check_query`).
    """
    paths = {metric.name: path for path, metric in reversed(sql_metric_paths(experiment))}
    runs: dict[str, SqlRun] = {}
    for metric in summary_metrics(experiment):
        if metric.sql is None:
            continue
        where = paths[metric.name]
        if catalog is None:
            raise SqlSourceError(
                f"{where}.sql.source",
                f"a source catalog (--sources FILE or SPLITLAB_SOURCES) defining "
                f"{metric.sql.source!r}: none was given",
            )
        source = catalog.sources.get(metric.sql.source)
        if source is None:
            known = ", ".join(sorted(catalog.sources)) or "(none)"
            raise SqlSourceError(
                f"{where}.sql.source",
                f"a source of the catalog ({known}), not {metric.sql.source!r}",
            )
        problems = check_query(metric.sql.query, source, f"{where}.sql.query")
        if problems:  # checked when the definition was saved; the catalog may have changed
            first = problems[0]
            raise SqlSourceError(first.path, f"{first.expected} (got {first.value!r})")
        runs[metric.name] = SqlRun(where, metric.sql.source, source, metric.sql.query)
    return runs


def fetch_sql_rows(
    experiment: Experiment,
    catalog: SourceCatalog | None,
    first_exposure_ms: int | None,
    cutoff_ms: int,
) -> SqlRows:
    """Run the experiment's SQL metrics over the range their summary can use (see the module
    docstring); `first_exposure_ms`: the earliest first exposure (None: no unit yet, then no
    query runs and the views are empty)."""
    runs = sql_runs(experiment, catalog)
    if not runs:
        return SqlRows({})
    metrics = summary_metrics(experiment)
    numbers = sql_numbers(metrics, len(event_names(metrics)))
    lookback = experiment.evaluation.cuped_lookback_days * 86_400_000
    if first_exposure_ms is None:
        return SqlRows({view_name(k): ROWS_SCHEMA.empty_table() for k in numbers.values()})
    requests = []
    for i in numbers:
        metric = metrics[i]
        lo = first_exposure_ms - (lookback if metric.cuped else 0)
        requests.append(RowsRequest(runs[metric.name], lo, cutoff_ms))
    tables = fetch_all(requests)
    return SqlRows({view_name(k): t for k, t in zip(numbers.values(), tables, strict=True)})


def first_exposure(con: Any, experiment: Experiment, cutoff_ms: int) -> int | None:
    """The experiment's earliest exposure time at or before the cut-off (epoch ms)."""
    params = {"exp": experiment.experiment_id, "cutoff": cutoff_ms}
    found = con.execute(_FIRST_EXPOSURE, params).fetchall()
    return None if not found or found[0][0] is None else int(found[0][0])


@contextmanager
def registered(con: Any, rows: SqlRows) -> Iterator[None]:
    """`rows`' tables as views on `con` for the duration (the caller holds the store lock)."""
    names = []
    try:
        for name, table in rows.tables.items():
            con.register(name, table)
            names.append(name)
        yield
    finally:
        for name in names:
            con.unregister(name)
