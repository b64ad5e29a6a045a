"""One loader for many collectors' logs: every log under a root directory into one DuckDB file.

Each collector process (one per core, or one per host on shared storage) writes its own
durable log in its own directory, ``ROOT/<id>/``. :class:`MergeLoader` loads each of them
with the same transaction as the single log (:mod:`splitlab.store.loader`): the events of a
batch and that log's new position, stored under the id ``log:<id>`` in
``splitlab_log_position``, commit together. A loader killed at any point resumes every log
from its recorded position, so no record is loaded twice or skipped; events sent to two
collectors (a client retrying elsewhere) are in two logs and stored once, by ``eventId``
(the loader's deduplication works across batches, whichever log they come from).

Run it as a process beside the collectors::

    python -m splitlab.store.merge --db events.duckdb --logs ROOT [--interval 0.5] [--once]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from splitlab.store.loader import Loader
from splitlab.store.log import Position
from splitlab.store.logreader import LogReader

logger = logging.getLogger(__name__)

#: The prefix of the merged logs' ids in ``splitlab_log_position``.
LOG_ID_PREFIX = "log:"


class _OneLog(Loader):
    """The single-log loader, reading a log another process writes."""

    def __init__(self, con: Any, directory: Path, scratch: Path, dedup_window_ms: int) -> None:
        super().__init__(
            con,
            LogReader(directory),
            scratch,
            dedup_window_ms=dedup_window_ms,
            log_id=LOG_ID_PREFIX + directory.name,
        )


class MergeLoader:
    """Loads every log directory under `root` into the DuckDB database of `connection`.

    `connection` is a DuckDB connection (a cursor of its own is taken per log). New log
    directories are picked up at each pass.
    """

    def __init__(
        self, connection: Any, root: Path | str, scratch_dir: Path | str,
        dedup_window_ms: int = 86_400_000,
    ) -> None:  # fmt: skip
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._con = connection
        self._scratch_dir = Path(scratch_dir)
        self._dedup_window_ms = dedup_window_ms
        self._logs: dict[str, _OneLog] = {}

    def _discover(self) -> list[_OneLog]:
        for directory in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if directory.name not in self._logs:
                scratch = self._scratch_dir / f"merge-{directory.name}.ndjson"
                self._logs[directory.name] = _OneLog(
                    self._con.cursor(), directory, scratch, self._dedup_window_ms
                )
        return list(self._logs.values())

    def load_once(self) -> int:
        """One batch from every log; the number of records loaded (0: all caught up)."""
        return sum(log.load_once() for log in self._discover())

    def catch_up(self) -> int:
        """Load until every log is caught up; the number of records loaded."""
        total = 0
        while loaded := self.load_once():
            total += loaded
        return total

    def positions(self) -> dict[str, Position]:
        """How far each log has been loaded."""
        return {name: log.position for name, log in self._logs.items()}

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Load until `stop` is set, pausing `interval_s` whenever everything is loaded."""
        while not stop.is_set():
            try:
                loaded = self.load_once()
            except Exception as exc:  # a failed pass is retried; the logs keep the records
                logger.error("loading the collectors' logs failed (will retry): %s", exc)
                loaded = 0
            if not loaded:
                stop.wait(interval_s)


def main(argv: list[str] | None = None) -> None:
    """``python -m splitlab.store.merge --db PATH --logs ROOT``: load until stopped."""
    from splitlab.store import DuckDBStore

    parser = argparse.ArgumentParser(prog="python -m splitlab.store.merge")
    parser.add_argument("--db", required=True, help="DuckDB file to load into")
    parser.add_argument("--logs", required=True, help="directory holding one log per collector")
    parser.add_argument("--interval", type=float, default=0.5, help="pause when caught up (s)")
    parser.add_argument("--once", action="store_true", help="load what is there, then exit")
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads (default 1)")
    parser.add_argument("--nice", type=int, default=10, help="lower CPU priority by this much")
    args = parser.parse_args(argv)
    # Loading is throughput work beside latency work: on the collectors' cores it must not
    # take them all (DuckDB would use every core) nor win the scheduler over them.
    if args.nice:
        os.nice(args.nice)
    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    # SIGTERM and Ctrl-C end the loop between batches (a batch commits whole or not at all,
    # so even SIGKILL is safe; this only avoids redoing the batch in flight).
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    with DuckDBStore(args.db) as store:
        with store.lock:
            connection = store.connection
            connection.execute(f"SET threads = {max(1, int(args.threads))}")
        merge = MergeLoader(connection, args.logs, Path(f"{store.path}.merge"))
        Path(f"{store.path}.merge").mkdir(exist_ok=True)
        if args.once:
            started = time.monotonic()
            loaded = merge.catch_up()
            print(f"loaded {loaded} records in {time.monotonic() - started:.1f} s")
            return
        merge.run(args.interval, stop)


if __name__ == "__main__":
    main()
