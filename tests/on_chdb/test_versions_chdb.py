"""Per-weights-version sums equal DuckDB's and Python's, on chDB (ClickHouse 26 in-process) instead
of the 18.16 server.

The test functions of tests/clickhouse/test_versions_parity.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_versions_parity import (
    test_clickhouse_duckdb_and_python_agree,
)

__all__ = [
    "test_clickhouse_duckdb_and_python_agree",
]
