"""The scale-out event store: the same interface and statistics as DuckDB, over ClickHouse.

``ClickHouseStore(url, log_dir)`` acknowledges events from a local durable log and loads them
into a ClickHouse server in the background (docs/clickhouse.md). ``LocalServer`` runs a
throwaway server for tests and trials.
"""

from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError
from splitlab.store.clickhouse.local import LocalServer
from splitlab.store.clickhouse.store import ClickHouseStore

__all__ = ["ClickHouseClient", "ClickHouseError", "ClickHouseStore", "LocalServer"]
