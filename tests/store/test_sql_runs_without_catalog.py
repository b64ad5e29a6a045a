"""A look at an experiment with a SQL metric but no source catalog: the error names the
metric's source field and says no catalog was given (the CLI has no "server")."""

from __future__ import annotations

import pytest

from splitlab.config import load_experiment
from splitlab.store.sql_sources import SqlSourceError
from splitlab.store.sql_views import sql_runs

QUERY = "SELECT u AS unit_id, t AS timestamp, v AS value FROM orders"


def test_no_catalog_is_said_plainly() -> None:
    experiment = load_experiment(
        {
            "experimentId": "exp-x",
            "variants": ["control", "treatment"],
            "assignment": {"salt": "x"},
            "metrics": {"primary": {"name": "m", "sql": {"source": "shop", "query": QUERY}}},
        }
    )
    with pytest.raises(SqlSourceError) as caught:
        sql_runs(experiment, None)
    assert str(caught.value).startswith(
        "$.metrics.primary.sql.source: expected a source catalog (--sources FILE or "
        "SPLITLAB_SOURCES) defining 'shop': none was given"
    )
