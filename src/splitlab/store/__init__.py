"""Event storage: a durable log in front of DuckDB, and the SQL that makes sufficient statistics.

``DuckDBStore(path)`` is the embedded default; :class:`EventStore` is the interface another
engine (ClickHouse) implements.
"""

from splitlab.store.base import DataQuality, EventStore, IngestResult
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.errors import OverloadedError, StoreError

__all__ = [
    "DataQuality",
    "DuckDBStore",
    "EventStore",
    "IngestResult",
    "OverloadedError",
    "StoreError",
]
