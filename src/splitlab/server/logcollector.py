"""Collectors that only write their own durable log: one per core, or one per host.

The collector of :mod:`splitlab.server.collector` normally runs in front of a
:class:`~splitlab.store.DuckDBStore`, which loads its log into DuckDB in the same process. Here
the collector keeps the same validation, answers and guarantee (a 2xx only after the batch is
fsync'd in its log) but loads nothing: :mod:`splitlab.store.merge` runs as its own process and
loads every collector's log into the store. With ``--workers N``, N such processes share one
port (``SO_REUSEPORT``: the kernel spreads connections over them), worker ``i`` writing
``ROOT/<name>-<i>``::

    python -m splitlab.server.logcollector --logs ROOT --port 8080 --workers 2
    python -m splitlab.store.merge --db events.duckdb --logs ROOT

A log directory belongs to one process at a time: start each worker with its own directory
(``--name`` differs per host when several hosts write to one shared directory).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType

from splitlab.server.collector import create_collector, known_from_files
from splitlab.server.gctune import quiet_gc
from splitlab.store.log import AppendLog
from splitlab.store.writepath import LogWriter
from splitlab.tracking.events import Limits


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A listening TCP socket; with `reuse_port`, other processes may bind the same port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve_one(args: argparse.Namespace, log_dir: Path) -> None:
    """One collector process writing `log_dir`, until SIGTERM or Ctrl-C."""
    import uvicorn

    from splitlab.signals import sigterm_unwinds

    known = known_from_files(args.experiments) if args.experiments else None
    with sigterm_unwinds():
        log = AppendLog(
            log_dir,
            segment_bytes=int(args.segment_mb * (1 << 20)),
            max_pending_bytes=int(args.max_pending_mb * (1 << 20)),
        )
        try:
            app = create_collector(
                LogWriter(log, args.recent_ids),
                (lambda: known) if known is not None else None,
                limits=Limits(max_events=args.max_events),
                on_shutdown=log.close,
            )
            sock = listening_socket(args.host, args.port, args.reuse_port)
            config = uvicorn.Config(app, log_level="warning", access_log=False)
            server = uvicorn.Server(config)
            quiet_gc()
            server.run(sockets=[sock])
        finally:
            log.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m splitlab.server.logcollector")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--log-dir", help="this process's log directory")
    where.add_argument("--logs", help="root directory: worker i writes ROOT/NAME-i")
    parser.add_argument("--name", default=socket.gethostname(), help="log name prefix")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--reuse-port", action="store_true", help="bind with SO_REUSEPORT")
    parser.add_argument("--experiments", nargs="*", default=[], help="definition JSON files")
    parser.add_argument("--max-events", type=int, default=Limits().max_events)
    parser.add_argument("--max-pending-mb", type=float, default=64, help="write queue bound")
    parser.add_argument("--segment-mb", type=float, default=64, help="log segment size")
    parser.add_argument("--recent-ids", type=int, default=200_000, help="ids kept for dedup")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run one collector (``--log-dir``) or ``--workers`` of them on one port (``--logs``)."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.log_dir is not None:
        serve_one(args, Path(args.log_dir))
        return
    if args.workers == 1:
        serve_one(args, Path(args.logs) / f"{args.name}-0")
        return
    _supervise(args, argv)


def _supervise(args: argparse.Namespace, argv: list[str]) -> None:
    """Start the workers (each with its own log) and stop them all on SIGTERM or Ctrl-C."""
    children: list[subprocess.Popen[bytes]] = []
    passed = _without(argv, {"--logs", "--workers", "--name"})
    for index in range(args.workers):
        log_dir = Path(args.logs) / f"{args.name}-{index}"
        command = [sys.executable, "-m", "splitlab.server.logcollector", *passed,
                   "--log-dir", str(log_dir), "--reuse-port"]  # fmt: skip
        children.append(subprocess.Popen(command))

    stopped_by: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped_by.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [child.wait() for child in children]
    if stopped_by:  # end the way a stopped process does, as the workers did
        signal.signal(stopped_by[0], signal.SIG_DFL)
        os.kill(os.getpid(), stopped_by[0])
    sys.exit(max((abs(c) for c in codes), default=0))


def _without(argv: list[str], options: set[str]) -> list[str]:
    """`argv` without the given options and their values (``--opt v`` or ``--opt=v``)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in options:
            skip = "=" not in arg
            continue
        kept.append(arg)
    return [a for a in kept if a != "--reuse-port"]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
