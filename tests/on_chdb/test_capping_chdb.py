"""Caps, touched counts and capped sums equal DuckDB's and numpy's, on chDB (ClickHouse 26
in-process) instead of the 18.16 server.

The test functions of tests/clickhouse/test_capping_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_capping_parity import (
    test_capping_equals_duckdb_and_numpy,
)

__all__ = [
    "test_capping_equals_duckdb_and_numpy",
]
