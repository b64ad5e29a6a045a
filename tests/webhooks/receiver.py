"""A real HTTP receiver on a loopback port that misbehaves on demand (tests only)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Answers each POST by ``plan(n)`` (n = 0, 1, ...): an HTTP status, or "slow" (sleeps
    ``slow_seconds`` before a 200, past the sender's timeout). Keeps every request seen."""

    def __init__(
        self, port: int, plan: Callable[[int], int | str], slow_seconds: float = 1.0
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answered: list[int | str] = []
        self._plan = plan
        self._slow = slow_seconds
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    n = len(receiver.answered)
                    action = receiver._plan(n)
                    receiver.answered.append(action)
                if action == "slow":
                    time.sleep(receiver._slow)
                    action = 200
                if action == 200:
                    with receiver._lock:
                        receiver.requests.append(
                            {"headers": dict(self.headers.items()), "body": body,
                             "json": json.loads(body)}
                        )  # fmt: skip
                self.send_response(int(action))
                if 300 <= int(action) < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered_ids(self) -> list[str]:
        with self._lock:
            return [r["json"]["id"] for r in self.requests]
