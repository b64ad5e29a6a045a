"""Summary and data-quality parity with DuckDB (every metric type, CUPED, windows, segments), on
chDB (ClickHouse 26 in-process) instead of the 18.16 server.

The test functions of tests/clickhouse/test_parity.py, imported so there is one copy of each;
only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_parity import (
    stores,
    test_data_quality_equals_duckdb,
    test_segment_labels_cover_strings_numbers_booleans_and_missing,
    test_summary_equals_duckdb,
)

__all__ = [
    "stores",
    "test_data_quality_equals_duckdb",
    "test_segment_labels_cover_strings_numbers_booleans_and_missing",
    "test_summary_equals_duckdb",
]
