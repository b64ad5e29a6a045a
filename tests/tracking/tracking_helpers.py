"""Helpers for the tracking tests: a fake clock, a collector that fails on purpose (a real HTTP
server on 127.0.0.1), an in-memory event sink, experiments."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import Experiment, load_experiment
from splitlab.tracking import TrackingClient, TrackingCore
from splitlab.tracking.events import Event, validate_batch


class FakeClock:
    """A monotonic clock that only moves when the client sleeps; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.now += seconds


@dataclass
class Reply:
    """One scripted answer of the collector: a status, headers, or a dropped connection."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    drop: bool = False


class ScriptedCollector:
    """A real HTTP collector on 127.0.0.1: answers from a script, then accepts (dedup by id).

    Every request's event ids are recorded in ``requests``; ``stored`` holds each accepted
    event once, as a real collector would after deduplication.
    """

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.fail_forever: Reply | None = None
        self.requests: list[list[str]] = []
        self.stored: dict[str, Event] = {}
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                collector.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        raw = json.loads(body)
        with self.lock:
            self.requests.append([item["eventId"] for item in raw])
            reply = self.script.pop(0) if self.script else self.fail_forever
            if reply is None:
                events, rejections = validate_batch(body, None)
                duplicates = sum(1 for e in events if e.event_id in self.stored)
                for event in events:
                    self.stored.setdefault(event.event_id, event)
                answer = {
                    "accepted": len(events) - duplicates,
                    "duplicates": duplicates,
                    "rejected": len(rejections),
                    "rejections": [r.to_dict() for r in rejections],
                }
                reply = Reply(200, body=json.dumps(answer).encode())
            self.changed.notify_all()
        if reply.drop:
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        payload = reply.body if reply.body is not None else b'{"error": "scripted"}'
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def wait_stored(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` distinct events are stored (True) or the timeout passes."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.stored) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Counts:
    accepted: int
    duplicates: int


class MemorySink:
    """An in-process event sink deduplicating by eventId, like the real store."""

    def __init__(self) -> None:
        self.stored: dict[str, Event] = {}
        self.lock = threading.Lock()

    def ingest(self, events: Sequence[Event]) -> Counts:
        fresh = 0
        with self.lock:
            for event in events:
                if event.event_id not in self.stored:
                    self.stored[event.event_id] = event
                    fresh += 1
        return Counts(fresh, len(events) - fresh)

    def of_type(self, kind: str) -> list[Event]:
        with self.lock:
            return [e for e in self.stored.values() if e.type == kind]


def track_many(client: TrackingClient, count: int, prefix: str = "user") -> list[str]:
    """Track ``count`` metric events of units ``{prefix}-0...``; their event ids."""
    return [
        client.metric(f"{prefix}-{i}", "exp-1", "control", "checkout").event_id
        for i in range(count)
    ]


def make_experiment(experiment_id: str = "exp-1", **overrides: Any) -> Experiment:
    """A running two-variant experiment with all traffic and no targeting."""
    raw: dict[str, Any] = {
        "experimentId": experiment_id,
        "name": experiment_id,
        "status": "running",
        "trafficAllocation": 1.0,
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": experiment_id},
        "metrics": {"primary": {"name": "checkout", "type": "conversion"}},
        "evaluation": {"minSampleSize": 100},
    }
    raw.update(overrides)
    return load_experiment(raw)


def unit_with_variant(
    assigner: ExperimentAssignmentService, experiment_id: str, variant: str
) -> str:
    """The first unit id 'user-N' that the service assigns to ``variant``."""
    for n in range(1000):
        unit = f"user-{n}"
        if assigner.assign(unit, experiment_id).variant == variant:
            return unit
    raise AssertionError(f"no unit in 1000 gets {variant!r}")


@dataclass
class Tracked:
    """A middleware core whose events go through a real client into an in-memory sink."""

    core: TrackingCore
    client: TrackingClient
    sink: MemorySink

    def stored(self, kind: str) -> list[Event]:
        """The deduplicated events of one type, once everything pending is delivered."""
        assert self.client.flush(timeout=10)
        return self.sink.of_type(kind)


def make_tracked(assigner: ExperimentAssignmentService, **options: Any) -> Tracked:
    """A TrackingCore over ``assigner`` feeding a TrackingClient with an in-process transport."""
    sink = MemorySink()
    client = TrackingClient.in_process(sink, flush_interval=60.0, register_atexit=False)
    return Tracked(TrackingCore(assigner, client, **options), client, sink)
