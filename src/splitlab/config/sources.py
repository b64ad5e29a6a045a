"""The source catalog: where SQL metrics (``metrics[].sql``) read the user's own tables.

A catalog is a JSON file given to the server and the CLI (``--sources FILE`` or the
``SPLITLAB_SOURCES`` environment variable), not part of an experiment definition: a definition
names a source, the operator decides what that source may read. Three kinds:

* ``files``: Parquet or CSV files, each exposed to the query as a table name; the query runs
  on an in-memory DuckDB that can read those paths and nothing else.
* ``postgresql``: a PostgreSQL database; the query runs there in a read-only transaction.
* ``clickhouse``: the ClickHouse server of the ClickHouse store; the query names its tables.

docs/sql-metrics.md describes the format with a worked example.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from splitlab.config.models_base import Model, Name

#: A table name a query may use: an SQL identifier that needs no quoting.
TABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
TableName = Annotated[str, Field(pattern=TABLE_NAME_PATTERN)]
Path = Annotated[str, Field(min_length=1, max_length=4096)]


class FileTable(Model):
    """One table of a ``files`` source: a file, or a glob of files of the same columns."""

    path: Path
    #: Default: from the path's suffix (``.parquet``, ``.csv``, ``.csv.gz``).
    format: Literal["parquet", "csv"] | None = None


class FilesSource(Model):
    type: Literal["files"]
    tables: Annotated[dict[TableName, FileTable], Field(min_length=1, max_length=200)]


class PostgresSource(Model):
    """A PostgreSQL database. ``dsn`` or ``dsnEnv`` (the name of an environment variable
    holding it, so that a password need not sit in the catalog file), not both."""

    type: Literal["postgresql"]
    dsn: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    dsn_env: Name | None = None


class ClickHouseSource(Model):
    """The ClickHouse store's own server; queries name its tables (``db.table``)."""

    type: Literal["clickhouse"]


Source = Annotated[FilesSource | PostgresSource | ClickHouseSource, Field(discriminator="type")]


class SourceCatalog(Model):
    """Named sources, e.g. ``{"sources": {"warehouse": {"type": "files", "tables": {...}}}}``."""

    sources: Annotated[dict[Name, Source], Field(max_length=100)] = Field(default_factory=dict)
