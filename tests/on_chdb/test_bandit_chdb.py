"""Bandit reward sums equal DuckDB's and pandas', on chDB (ClickHouse 26 in-process) instead of the
18.16 server.

The test functions of tests/clickhouse/test_bandit_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_bandit_parity import (
    test_clickhouse_duckdb_and_pandas_agree,
)

__all__ = [
    "test_clickhouse_duckdb_and_pandas_agree",
]
