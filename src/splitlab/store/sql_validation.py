"""Validating a definition's SQL metrics before it is saved: checks, then a dry run.

With a source catalog, each SQL metric's source must be in it and its query must pass the
read-only checks (:mod:`splitlab.config.sql_checks`); then the query runs once on its source,
sandboxed, with ``LIMIT 0`` (:func:`splitlab.store.sql_sources.dry_run`) to check that it runs
and returns exactly ``unit_id``, a date-time ``timestamp`` and a numeric or NULL ``value``.
Without a catalog, only the syntax is checked and the dry run is skipped (the result says so).

``splitlab validate --sources FILE`` and the server's experiment create and update routes use
:func:`validate_sql_metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.config.errors import Problem
from splitlab.config.models import Experiment
from splitlab.config.sources import ClickHouseSource, SourceCatalog
from splitlab.config.sql_checks import check_sql_metrics, check_sql_syntax, sql_metric_paths
from splitlab.store.sql_sources import SqlRun, dry_run


@dataclass(frozen=True)
class SqlValidation:
    """What validating the SQL metrics found."""

    problems: list[Problem]
    #: How many SQL metrics the definition has.
    metrics: int
    #: Whether the queries were run (with ``LIMIT 0``): false without a catalog.
    dry_run: bool
    #: Of the metrics, those on a ``clickhouse`` source, checked but not run here (the
    #: ClickHouse store runs them: :meth:`ClickHouseStore.validate_sql_metrics`).
    not_run: int = 0

    @property
    def note(self) -> str | None:
        """A line for the user about the dry run, or None without SQL metrics."""
        if not self.metrics:
            return None
        noun = "metric" if self.metrics == 1 else "metrics"
        if self.dry_run and self.not_run:
            ran = self.metrics - self.not_run
            them = "it" if self.not_run == 1 else "them"
            return (
                f"{self.metrics} SQL {noun}: checked; "
                + (
                    f"{ran} dry-run on {'its source' if ran == 1 else 'their sources'}, "
                    if ran
                    else ""
                )
                + f"{self.not_run} on a clickhouse source not dry-run here (only the ClickHouse "
                f"store can run {them}: ClickHouseStore.validate_sql_metrics)"
            )
        if self.dry_run:
            return f"{self.metrics} SQL {noun}: checked and dry-run on their sources"
        return (
            f"{self.metrics} SQL {noun}: syntax checked only; dry run skipped (no source "
            "catalog: give --sources FILE or set SPLITLAB_SOURCES)"
        )


def validate_sql_metrics(
    experiment: Experiment, catalog: SourceCatalog | None, timeout_s: float = 60.0
) -> SqlValidation:
    """Check `experiment`'s SQL metrics against `catalog`, running each query with ``LIMIT 0``
    (a ``clickhouse`` source is checked, not run: the ClickHouse store runs it)."""
    metrics = sql_metric_paths(experiment)
    if not metrics:
        return SqlValidation([], 0, False)
    if catalog is None:
        return SqlValidation(check_sql_syntax(experiment), len(metrics), False)
    problems = check_sql_metrics(experiment, catalog)
    refused = {p.path.rsplit(".sql.", 1)[0] for p in problems}
    not_run = 0
    for path, metric in metrics:
        assert metric.sql is not None
        if path in refused:
            continue  # never run a query the checks refused
        source = catalog.sources[metric.sql.source]
        if isinstance(source, ClickHouseSource):
            not_run += 1
            continue
        run = SqlRun(path, metric.sql.source, source, metric.sql.query)
        problems += dry_run(run, timeout_s)
    return SqlValidation(problems, len(metrics), True, not_run)
