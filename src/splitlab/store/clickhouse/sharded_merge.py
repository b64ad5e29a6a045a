"""Combining the shards' answers to one query: rows added per key.

Every row of a unit lives on one shard (:mod:`.sharded`), so a query whose rows are grouped by
something coarser than the unit (a variant, a sketch bucket, an interval, a switchback cell)
and carry only counts and sums over units or their events gives, per group, a partial total
on each shard; the whole answer is the per-group sum of the shards' rows. :func:`added` does
that, and :class:`Fanout` runs one query on every shard in parallel and hands back the added
rows, in the ``run(sql, params) -> (columns, rows)`` shape the single-server readers take.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from splitlab.store.clickhouse.connection import Connection

#: What one shard answers: column names and rows.
Answer = tuple[list[str], list[list[Any]]]
#: A query runner: ``(sql, params) -> (columns, rows)``.
Runner = Callable[[str, dict[str, Any]], tuple[list[str], list[list[Any]]]]


def added(
    parts: Iterable[Sequence[Sequence[Any]]], keys: int, maxima: Collection[int] = ()
) -> list[list[Any]]:
    """The rows of `parts` (one list per shard) with the same first `keys` columns combined:
    every other column added (NULL counts as 0), except the columns at the positions
    `maxima` (counted after the key), whose largest value other than NULL is kept (NULL if
    none). Sorted by key."""
    merged: dict[tuple[Any, ...], list[Any]] = {}
    for rows in parts:
        for row in rows:
            key, values = tuple(row[:keys]), list(row[keys:])
            old = merged.get(key)
            if old is not None:
                values = [
                    _larger(a, b) if j in maxima else (a or 0) + (b or 0)
                    for j, (a, b) in enumerate(zip(old, values, strict=True))
                ]
            merged[key] = values
    return [[*key, *values] for key, values in sorted(merged.items(), key=lambda kv: kv[0])]


def _larger(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


class Fanout:
    """One query on every shard (in parallel, on `pool`), answers combined; every query is
    sent with the server `settings` given (e.g. read-only for SQL metrics)."""

    def __init__(
        self,
        shards: Sequence[Connection],
        pool: ThreadPoolExecutor,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.shards = list(shards)
        self._pool = pool
        self._settings = settings

    def with_settings(self, settings: Mapping[str, str]) -> Fanout:
        """The same shards and pool, queries sent with `settings`."""
        return Fanout(self.shards, self._pool, settings)

    def each(self, sql: str, params: dict[str, Any]) -> list[Answer]:
        """Every shard's answer to `sql`, in the order of the shards."""
        settings = self._settings
        return list(self._pool.map(lambda shard: shard.query(sql, params, settings), self.shards))

    def adding(self, *key_names: str) -> Runner:
        """A runner whose rows are every shard's :func:`added` by key: the leading columns
        whose names are among `key_names` (each query of a reader may have its own)."""

        def run(sql: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
            answers = self.each(sql, params)
            columns = answers[0][0]
            keys = 0
            while keys < len(columns) and columns[keys] in key_names:
                keys += 1
            return columns, added((rows for _, rows in answers), keys)

        return run
