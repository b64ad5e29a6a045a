"""The one place where ClickHouse versions get different SQL or settings.

A :class:`Dialect` is made from the server's ``version()`` text. The HTTP client
(:mod:`.http`) asks the server once, before its first statement, and sends
:attr:`Dialect.settings` with every statement; the chDB client (:mod:`.chdb_backend`) sets
them once on its session. The loader asks :meth:`Dialect.add_column` for its one
version-dependent statement.

The summary SQL itself is one text for every version (docs/clickhouse.md, "Versions"): it
uses only what 18.16 already had, and current ClickHouse reads it the same way once
:attr:`Dialect.settings` restore the one rule that changed. The version paths are:

* **joins of unnamed subqueries**: from 20.x on, ClickHouse refuses ``FROM (subquery) JOIN
  (subquery) USING ...`` without an alias on each subquery unless
  ``joined_subquery_requires_alias = 0``; 18.16 does not know the setting (and would refuse
  it), so it is sent to 20.1 and later only;
* **adding a column to an older table**: 18.16 has no ``ADD COLUMN IF NOT EXISTS``, so the
  loader reads ``system.columns`` first and tolerates "column already exists" (code 44) from
  a racing loader; 20.1 and later use ``IF NOT EXISTS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The oldest ClickHouse the store is tested on (Debian bookworm's clickhouse-server).
MINIMUM_VERSION = (18, 16)
#: The version from which the two version paths above take their newer branch.
_CURRENT = (20, 1)


@dataclass(frozen=True)
class Dialect:
    """The SQL choices for ClickHouse `version` (major, minor)."""

    version: tuple[int, int]

    @classmethod
    def parse(cls, text: str) -> Dialect:
        """The dialect of a server whose ``version()`` is `text`.

        Raises ValueError for an unreadable version or one older than the minimum.
        """
        match = re.match(r"(\d+)\.(\d+)", text)
        if match is None:
            raise ValueError(f"ClickHouse version {text!r}: expected MAJOR.MINOR...")
        version = (int(match.group(1)), int(match.group(2)))
        if version < MINIMUM_VERSION:
            raise ValueError(
                f"ClickHouse {text}: splitlab needs {MINIMUM_VERSION[0]}.{MINIMUM_VERSION[1]}"
                " or later"
            )
        return cls(version)

    @property
    def settings(self) -> dict[str, str]:
        """Settings sent with every statement (see the module's notes)."""
        if self.version >= _CURRENT:
            return {"joined_subquery_requires_alias": "0"}
        return {}

    def add_column(self, table: str, column: str, kind: str) -> str:
        """The statement that adds `column` to `table` (``IF NOT EXISTS`` from 20.1 on)."""
        guard = " IF NOT EXISTS" if self.version >= _CURRENT else ""
        return f"ALTER TABLE {table} ADD COLUMN{guard} {column} {kind}"
