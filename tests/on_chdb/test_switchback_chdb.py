"""Switchback cells and data quality equal DuckDB's, on chDB (ClickHouse 26 in-process) instead of
the 18.16 server.

The test functions of tests/clickhouse/test_switchback_parity.py, imported so there is one copy
of each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_switchback_parity import (
    test_cells_and_quality_agree,
)

__all__ = [
    "test_cells_and_quality_agree",
]
