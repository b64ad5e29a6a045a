"""Replays, both deduplication strategies (``FINAL``, ``LIMIT 1 BY``), labels and quoting, on chDB
(ClickHouse 26 in-process) instead of the 18.16 server.

The test functions of tests/clickhouse/test_idempotence.py, imported so there is one copy of
each; only the ``clickhouse`` fixture differs (tests/on_chdb/conftest.py).
"""

from tests.clickhouse.test_idempotence import (
    test_both_deduplication_strategies_agree_with_duckdb,
    test_first_exposure_without_attributes_is_labelled_none,
    test_quotes_and_backslashes_in_ids_are_data_not_sql,
    test_replaying_everything_changes_nothing,
)

__all__ = [
    "test_both_deduplication_strategies_agree_with_duckdb",
    "test_first_exposure_without_attributes_is_labelled_none",
    "test_quotes_and_backslashes_in_ids_are_data_not_sql",
    "test_replaying_everything_changes_nothing",
]
