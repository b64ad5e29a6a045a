"""Running the collector for real: in a thread (uvicorn) or as its own process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class ChildProcess:
    """``python -m <args>`` in a child process that tests can SIGKILL and start again; with
    `health`, :meth:`start` waits until that URL answers 200."""

    def __init__(self, *args: str, health: str | None = None, quiet: bool = False) -> None:
        self.args = list(args)
        self.health = health
        self.quiet = quiet
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        stderr = subprocess.DEVNULL if self.quiet else None
        self.process = subprocess.Popen([sys.executable, "-m", *self.args], env=env, stderr=stderr)
        deadline = time.monotonic() + 30
        while self.health is not None:
            try:
                if httpx.get(self.health, timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.args} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, nothing after the last fsync survives in memory."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


class CollectorProcess(ChildProcess):
    """``python -m splitlab.server.collector`` in a child process that tests can SIGKILL."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.port = free_port()
        super().__init__("splitlab.server.collector", "--db", str(db), "--port",
                         str(self.port), *extra, health=f"{self.url}/healthz", quiet=True)  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events).encode()
