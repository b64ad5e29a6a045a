"""Canary judgments' data equal DuckDB's, on chDB (ClickHouse 26 in-process) instead of the 18.16
server.

The test functions of tests/clickhouse/test_canary_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_canary_parity import (
    stores,
    test_canary_intervals_equal_duckdb,
    test_one_metric_equals_duckdb,
    test_several_quantiles_equal_duckdb,
)

__all__ = [
    "stores",
    "test_canary_intervals_equal_duckdb",
    "test_one_metric_equals_duckdb",
    "test_several_quantiles_equal_duckdb",
]
