"""Quantile sums equal DuckDB's and Python's, on chDB (ClickHouse 26 in-process) instead of the
18.16 server.

The test functions of tests/clickhouse/test_quantile_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_quantile_parity import (
    test_quantile_sums_equal_duckdb_and_python,
)

__all__ = [
    "test_quantile_sums_equal_duckdb_and_python",
]
