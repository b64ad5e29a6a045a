"""Forwarding the collector's durable log to a Kafka topic.

The collector acknowledges a batch once it is fsync'd in its local log, exactly as without
Kafka. A :class:`KafkaForwarder` thread then reads the durable records after its own
position, publishes their events to the topic and, once the broker confirmed every message
(``acks=all``, idempotent producer), records the new position in a small file beside the log
(written to a temporary file, fsync'd and renamed). So:

* a broker outage never blocks acceptance and never loses an acknowledged event: the records
  wait in the log (whose segments are kept until forwarded) and go out when the broker is back;
* a crash between the broker's confirmation and the position file sends those records again
  on restart: delivery to the topic is at least once, and the loader's ``eventId``
  deduplication makes the load exactly once.

Messages: the key is the event's ``unitId`` (all of a unit's events land in one partition, in
order); the value is that unit's events of one log record as newline-delimited JSON, the
project's wire form (:class:`~splitlab.tracking.events.Event`).

Runnable alone, as the collector with forwarding (crash tests, benchmarks)::

    python -m splitlab.server.kafka_forward --db events.duckdb --port 8080 \\
        --kafka 127.0.0.1:9092 --topic splitlab-events
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

from splitlab.store.log import HOLD_SUFFIX, AppendLog, Position, fsync_directory
from splitlab.tracking.kafka import produce, producer_config

logger = logging.getLogger(__name__)

#: The topic when none is named.
DEFAULT_TOPIC = "splitlab-events"
#: Seconds without an answer from the broker (or with failing passes) after which the
#: forwarder reports ``degraded``: longer than librdkafka's longest reconnect back-off
#: (``reconnect.backoff.max.ms``, 10 s), so a broker restart alone does not trip it.
DEGRADED_AFTER_S = 15.0


class _Unit(msgspec.Struct):
    unitId: str  # the wire name


_decode_unit = msgspec.json.Decoder(_Unit).decode


def messages(payload: bytes) -> list[tuple[bytes, bytes]]:
    """One log record (newline-delimited events) as (key, value) messages, one per unit."""
    by_unit: dict[str, list[bytes]] = defaultdict(list)
    for line in payload.splitlines(keepends=True):
        if line.strip():
            by_unit[_decode_unit(line).unitId].append(line)
    return [(unit.encode(), b"".join(lines)) for unit, lines in by_unit.items()]


class KafkaForwarder:
    """A thread publishing the durable records of `log` to `topic` (module docstring)."""

    def __init__(
        self,
        log: AppendLog,
        bootstrap: str,
        topic: str = DEFAULT_TOPIC,
        *,
        state_path: Path | None = None,
        batch_bytes: int = 4 << 20,
        interval_s: float = 0.1,
        producer: dict[str, Any] | None = None,
        degraded_after_s: float = DEGRADED_AFTER_S,
        probe_interval_s: float = 5.0,
    ) -> None:
        from confluent_kafka import Producer

        self.topic = topic
        self._log = log
        # the position file is a hold on the log: no segment it has not passed is deleted
        self._state = state_path or log.directory / f"kafka-forward-{topic}{HOLD_SUFFIX}"
        self._batch_bytes = batch_bytes
        self._interval = interval_s
        self._producer = Producer(
            producer_config(bootstrap, {"error_cb": self._client_error, **(producer or {})})
        )
        self._degraded_after = degraded_after_s
        self._probe_interval = probe_interval_s
        #: When the broker last answered (monotonic), and since when it has not (None: it
        #: answers). Not reached yet at start: the thread's first probe says.
        self._reached_at = 0.0
        self._unreachable_since: float | None = time.monotonic()
        #: Since when passes have been failing (None: the last one succeeded).
        self._failing_since: float | None = None
        self.position = self._recorded_position()
        if not self._state.exists():
            self._record(self.position)  # hold the log from the oldest segment left
        self._wake = log.listen()
        self._stopping = threading.Event()
        self._closing = False
        #: The pass whose messages the broker has not confirmed yet.
        self._pending: _Pass | None = None
        #: The last failure (None once a pass succeeded): for health reports.
        self.last_error: str | None = None
        #: Records and messages published since start.
        self.records = 0
        self.messages = 0
        self._thread = threading.Thread(target=self._run, name="splitlab-kafka", daemon=True)

    def start(self) -> KafkaForwarder:
        """Start the thread."""
        self._thread.start()
        return self

    def _recorded_position(self) -> Position:
        try:
            state = json.loads(self._state.read_text())
        except FileNotFoundError:
            return Position(0, 0)
        return Position(int(state["segment"]), int(state["offset"]))

    def _record(self, position: Position) -> None:
        temporary = self._state.with_name(self._state.name + ".tmp")
        with temporary.open("w") as handle:
            json.dump({"topic": self.topic, "segment": position.segment,
                       "offset": position.offset}, handle)  # fmt: skip
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._state)
        fsync_directory(self._state.parent)
        self.position = position

    # ------------------------------------------------------------------ forwarding

    def forward_once(self, timeout: float = 30.0) -> int:
        """Publish one batch of durable records and wait for the broker's confirmation.

        Returns the number of records forwarded (0: caught up). Raises :class:`ForwardError`
        when a message was refused or not confirmed within `timeout`; the position stays, so
        the same records go out again at the next pass.
        """
        if self._pending is None:
            payloads, end = self._log.read_next(self.position, self._batch_bytes)
            if not payloads:
                if end > self.position:
                    self._record(end)  # past segments left empty by rotation
                return 0
            pending = _Pass(end, len(payloads))
            for payload in payloads:
                for key, value in messages(payload):
                    produce(self._producer, self.topic, key, value, pending.delivered)
                    pending.sent += 1
            self._pending = pending
        # A pass that timed out is not produced again: its messages are still queued in the
        # producer, which retries them (a long outage must not queue a copy per attempt).
        pending = self._pending
        deadline = time.monotonic() + timeout
        while self._producer.flush(0.5) > 0:
            if time.monotonic() > deadline or (self._stopping.is_set() and not self._closing):
                raise ForwardError(
                    f"the broker did not confirm {pending.sent} messages in {timeout:g} s"
                )
        self._pending = None
        if pending.failures:  # final failures: the next pass reads and sends them again
            raise ForwardError(f"{len(pending.failures)} messages refused: {pending.failures[0]}")
        self._reached()
        self._record(pending.end)
        self.records += pending.records
        self.messages += pending.sent
        return pending.records

    def _run(self) -> None:
        pause = self._interval
        self._probe()
        while not self._stopping.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            if self._stopping.is_set():
                return
            self._producer.poll(0)  # the client's error reports while idle
            try:
                while self.forward_once() and not self._stopping.is_set():
                    pass
            except Exception as exc:  # any failure: log it, retry later
                self.last_error = str(exc)
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                logger.warning("forwarding events to Kafka failed (will retry): %s", exc)
                pause = min(5.0, max(pause, 0.1) * 2)
                continue
            self.last_error = None
            self._failing_since = None
            pause = self._interval
            if time.monotonic() - self._reached_at > self._probe_interval:
                self._probe()  # idle: is the broker still there?

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread, forward what is durable now (up to `timeout`), and stop.

        What is not confirmed by then stays in the log and goes out at the next start.
        """
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self._closing = True  # the last pass below may use its whole timeout
        try:
            while self.forward_once(timeout):
                pass
        except Exception as exc:
            logger.warning("events left for Kafka in the log, sent at the next start: %s", exc)
        self._producer.purge()  # unconfirmed messages: sent again from the log next time
        self._producer.close()

    def health(self) -> dict[str, Any]:
        """The forwarder's state for ``/healthz`` (docs/kafka.md, "Health"): whether the
        broker answers, what waits in the log, the last error, and ``degraded`` once the
        broker has not answered, or passes have failed, for more than ``degraded_after_s``."""
        now = time.monotonic()
        durable = self._log.durable_position
        unreachable = self._unreachable_since
        failing = self._failing_since
        stalled = max(
            0.0 if unreachable is None else now - unreachable,
            0.0 if failing is None else now - failing,
        )
        return {
            "topic": self.topic,
            "connected": unreachable is None,
            "forwarded": list(self.position),
            "durable": list(durable),
            "caughtUp": self.position >= durable,
            "waitingBytes": self._log.bytes_between(self.position, durable),
            "unconfirmedMessages": len(self._producer),
            "lastError": self.last_error,
            "unreachableSeconds": None if unreachable is None else round(now - unreachable, 1),
            "degraded": stalled > self._degraded_after,
        }

    # ------------------------------------------------------------------ reachability

    def _reached(self) -> None:
        """The broker answered (a confirmed pass or a metadata answer)."""
        self._reached_at = time.monotonic()
        self._unreachable_since = None

    def _unreachable(self, why: str) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            logger.warning("Kafka brokers unreachable: %s", why)
        self.last_error = why

    def _probe(self, timeout: float = 2.0) -> None:
        """Ask the broker for the topic's metadata: the reachability check while idle."""
        from confluent_kafka import KafkaException

        try:
            self._producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            self._unreachable(f"no metadata answer in {timeout:g} s: {exc.args[0]}")
            return
        self._reached()

    def _client_error(self, error: Any) -> None:
        """librdkafka's error callback (on the thread that polls: this one): every broker
        connection down means unreachable until the broker answers again."""
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._unreachable(str(error))


class _Pass:
    """One forwarding pass: the log position after it and its delivery reports."""

    def __init__(self, end: Position, records: int) -> None:
        self.end = end
        self.records = records
        self.sent = 0
        self.failures: list[str] = []

    def delivered(self, error: Any, _message: Any) -> None:
        if error is not None:
            self.failures.append(str(error))


class ForwardError(Exception):
    """Publishing to Kafka failed; the records are sent again at the next pass."""


def main(argv: list[str] | None = None) -> None:
    """The collector alone, forwarding to Kafka (crash tests and benchmarks)."""
    import argparse

    import uvicorn

    from splitlab.server.collector import create_collector
    from splitlab.signals import sigterm_unwinds
    from splitlab.store import DuckDBStore

    parser = argparse.ArgumentParser(prog="python -m splitlab.server.kafka_forward")
    parser.add_argument("--db", required=True, help="DuckDB file (its log sits beside it)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--kafka", required=True, help="bootstrap servers, host:port[,...]")
    parser.add_argument("--topic", default=DEFAULT_TOPIC)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with sigterm_unwinds():
        store = DuckDBStore(args.db)
        forwarder = KafkaForwarder(store.event_log, args.kafka, args.topic).start()
        store.on_close(forwarder.close)
        try:
            app = create_collector(store, None, on_shutdown=store.close)
            uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
        finally:
            store.close()


if __name__ == "__main__":
    main()
