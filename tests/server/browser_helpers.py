"""Helpers of the browser-facing server tests: a real server on a thread, an SSE reader."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from splitlab.server.context import ServerContext
from splitlab.server.run import BackgroundServer

ORIGIN = "https://app.example.com"


@dataclass
class Served:
    """A real uvicorn server over `ctx` with an admin and an SDK key."""

    ctx: ServerContext
    url: str
    admin_key: str
    sdk_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def sdk(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sdk_key}"}


@contextmanager
def served(ctx: ServerContext, *origins: str) -> Iterator[Served]:
    """`ctx` served by uvicorn on a free loopback port (CORS allowing `origins`)."""
    admin = ctx.keys.create("admin", "tests").secret
    sdk = ctx.keys.create("sdk", "web").secret
    with BackgroundServer(ctx, cors_origins=origins) as server:
        yield Served(ctx, server.url, admin, sdk)


class SseReader:
    """Reads a server-sent events stream on a thread; events and the end arrive in a queue."""

    END = None

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.status: int | None = None
        self.response_headers: httpx.Headers | None = None
        self.lines: list[str] = []
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> SseReader:
        self._thread.start()
        assert self._opened.wait(10), "the stream answered"
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=None) as response:
                self.status = response.status_code
                self.response_headers = response.headers
                self._opened.set()
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    self.lines.append(line)
                    if line == "":
                        if event:
                            self.events.put(event)
                        event = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()
            self.events.put(self.END)

    def next_config(self, timeout: float = 10) -> dict[str, Any]:
        """The next ``config`` event's data (waits at most `timeout` seconds)."""
        while True:
            event = self.events.get(timeout=timeout)
            assert event is not None, "the stream ended"
            if event.get("event") == "config":
                data: dict[str, Any] = json.loads(event["data"])
                return data

    def wait_end(self, timeout: float = 10) -> None:
        """Wait (at most `timeout` seconds) until the server ended the stream."""
        while True:
            if self.events.get(timeout=timeout) is None:
                return

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)
