"""SQL-defined retention and time-to-event metrics on chDB (ClickHouse 26 in-process): the test
of tests/clickhouse/test_sql_event_timing_clickhouse.py, imported (only the ``clickhouse``
fixture differs: tests/on_chdb/conftest.py)."""

from tests.clickhouse.test_sql_event_timing_clickhouse import (
    test_sql_rows_give_the_event_curves_and_tables,
)

__all__ = ["test_sql_rows_give_the_event_curves_and_tables"]
