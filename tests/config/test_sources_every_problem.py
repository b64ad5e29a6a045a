"""A source catalog lists every problem at once: a PostgreSQL source without its dsn is
reported together with another source's wrong type, not only after that one is fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitlab.config.source_loading import SourcesError, parse_sources

DSN = (
    "$.sources.billing: expected exactly one of dsn and dsnEnv (a connection string, or the name "
    'of an environment variable holding one) (got {"dsn": null, "dsnEnv": null})'
)


def test_the_dsn_rule_is_listed_with_the_other_sources_problems(tmp_path: Path) -> None:
    raw = {
        "sources": {
            "billing": {"type": "postgresql"},
            "lake": {"type": "files", "tables": {"t": {"path": "t.txt"}}},
            "other": {"type": "mysql"},
        }
    }
    with pytest.raises(SourcesError) as caught:
        parse_sources(raw, tmp_path)
    lines = [str(p) for p in caught.value.problems]
    assert lines[0] == (
        "$.sources.other.type: expected one of 'files', 'postgresql', 'clickhouse' (got \"mysql\")"
    )
    assert sorted(lines[1:]) == sorted(
        [
            DSN,
            "$.sources.lake.tables.t.path: expected a format ('parquet' or 'csv'), or a path "
            'ending in .parquet, .csv, .csv.gz, .tsv (got "t.txt")',
        ]
    )


def test_a_problem_is_not_listed_twice(tmp_path: Path) -> None:
    raw = {"sources": {"a": {"type": "mysql"}, "b": {"type": "postgresql", "dsn": "x"}}}
    with pytest.raises(SourcesError) as caught:
        parse_sources(raw, tmp_path)
    assert len(caught.value.problems) == 1
