"""Error messages a user reads for a mistyped SQL query or an empty string: the field's JSON
path, the value, and what was expected in plain words (no parser class names or token dumps)."""

from __future__ import annotations

import pytest

from splitlab.config import ConfigError, load_experiment
from splitlab.config.sources import ClickHouseSource, FilesSource, FileTable, PostgresSource
from splitlab.config.sql_checks import check_query

FILES = FilesSource(type="files", tables={"orders": FileTable(path="/data/o.parquet")})
PATH = "$.metrics.primary.sql.query"


@pytest.mark.parametrize(
    ("query", "says"),
    [
        (
            "SELECT a AS unit_id FROM orders WHERE",  # column 37: the end of 'WHERE'
            "syntax error at line 1, column 37 near 'WHERE': the WHERE clause is incomplete",
        ),
        ("SELEC a AS unit_id FROM orders", "syntax error at line 1, column 10 near 'AS': "),
        ("SELECT (a FROM orders", "near 'FROM': expected ')'"),
        ("SELECT a FROM", "near 'FROM': expected table name but the query ended"),
        ("SELECT a FROM orders WHERE x = 'abc", "a quote or a bracketed name is not closed"),
    ],
)
@pytest.mark.parametrize(
    "source",
    [FILES, PostgresSource(type="postgresql", dsn="x"), ClickHouseSource(type="clickhouse")],
)
def test_a_syntax_error_says_where_and_what_in_plain_words(
    query: str, says: str, source: FilesSource | PostgresSource | ClickHouseSource
) -> None:
    [problem] = check_query(query, source, PATH)
    text = str(problem)
    assert text.startswith(f"{PATH}: expected one read-only SELECT statement")
    assert says in text
    for internal in ("<class", "<Token", "TokenType", "Required keyword", "Invalid expression"):
        assert internal not in text


def test_an_empty_query_is_expected_to_be_a_string_of_at_least_one_character() -> None:
    definition = {
        "experimentId": "exp-x",
        "name": "x",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "x"},
        "metrics": {"primary": {"name": "m", "sql": {"source": "shop", "query": ""}}},
    }
    with pytest.raises(ConfigError) as caught:
        load_experiment(definition)
    assert [str(p) for p in caught.value.problems] == [
        '$.metrics.primary.sql.query: expected a string of at least 1 character (got "")'
    ]
