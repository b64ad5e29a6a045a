"""Sums per stratum of an allocation table equal DuckDB's, on chDB (ClickHouse 26 in-process)
instead of the 18.16 server.

The test functions of tests/clickhouse/test_stratum_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_stratum_parity import (
    stores,
    test_a_table_of_10000_clusters_is_summed,
    test_stratum_sums_equal_duckdb,
)

__all__ = [
    "stores",
    "test_a_table_of_10000_clusters_is_summed",
    "test_stratum_sums_equal_duckdb",
]
