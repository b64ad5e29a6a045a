"""Cluster-design sums and data quality equal DuckDB's and the pandas reference, on chDB
(ClickHouse 26 in-process) instead of the 18.16 server.

The test functions of tests/clickhouse/test_cluster_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_cluster_parity import (
    stores,
    test_cluster_data_quality_equals_duckdb,
    test_cluster_sums_equal_duckdb,
    test_cluster_sums_equal_the_reference,
)

__all__ = [
    "stores",
    "test_cluster_data_quality_equals_duckdb",
    "test_cluster_sums_equal_duckdb",
    "test_cluster_sums_equal_the_reference",
]
