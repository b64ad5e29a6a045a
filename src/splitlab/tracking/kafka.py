"""A transport that produces batches straight to a Kafka topic (no collector in between).

``TrackingClient(KafkaTransport("kafka1:9092", "splitlab-events"))`` validates each batch as
the collector would (the same rules and limits; refused events come back as rejections),
then publishes the valid events in the form the Kafka loader reads (docs/kafka.md): key =
``unitId``, value = that unit's events as newline-delimited JSON. A batch counts as delivered
only when the broker confirmed every message (``acks=all``, idempotent producer); otherwise
:meth:`KafkaTransport.send` raises :class:`~splitlab.tracking.errors.RetryableSendError` and
the client keeps the batch (its retries carry the same ``eventId`` values, so the loader
stores each event once). Needs ``confluent-kafka`` (``pip install 'splitlab[kafka]'``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec

from splitlab.tracking.errors import MissingDependencyError, RetryableSendError
from splitlab.tracking.events import Event, Known, Limits, validate_batch
from splitlab.tracking.transport import EventRejection, SendResult, encode_batch

logger = logging.getLogger(__name__)

_encode_lines = msgspec.json.Encoder().encode_lines


def producer_config(bootstrap: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The producer settings: every message confirmed by all in-sync replicas, no duplicates
    from the producer's own retries, small batches gathered for a few milliseconds."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "logger": logging.getLogger("splitlab.kafka.client"),  # librdkafka's own messages
        **(extra or {}),
    }


def produce(producer: Any, topic: str, key: bytes, value: bytes, on_delivery: Any) -> None:
    """Queue one message on `producer`, waiting for room while its queue is full."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            return
        except BufferError:  # the producer's queue is full: let it drain
            producer.poll(0.1)


def unit_messages(events: Sequence[Event]) -> list[tuple[bytes, bytes]]:
    """`events` as (key, value) Kafka messages: one per unit, its events as JSON lines."""
    by_unit: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_unit[event.unit_id].append(event)
    return [(unit.encode(), _encode_lines(group)) for unit, group in by_unit.items()]


class KafkaTransport:
    """Delivers batches to `topic` on the brokers `bootstrap` (module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = "splitlab-events",
        *,
        known: Known | None = None,
        limits: Limits | None = None,
        timeout: float = 30.0,
        producer: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self._known = known
        self._limits = limits
        self._timeout = timeout
        # The producer gives up on a message after `timeout` (its delivery report says so):
        # the batch then fails as a whole and the client sends it again later.
        timeouts = {"message.timeout.ms": max(1000, int(timeout * 1000))}
        self._config = producer_config(bootstrap, {**timeouts, **(producer or {})})
        self._producer = self._new_producer()

    def _new_producer(self) -> Any:
        try:
            from confluent_kafka import Producer
        except ImportError as exc:
            raise MissingDependencyError(
                "the Kafka transport needs confluent-kafka, which is not installed; "
                "install it with: pip install 'splitlab[kafka]'"
            ) from exc
        return Producer(self._config)

    def send(self, events: Sequence[Event]) -> SendResult:
        """Validate `events`, publish the valid ones and wait for the broker's confirmation."""
        valid, problems = validate_batch(encode_batch(events), self._known, limits=self._limits)
        rejections = tuple(
            EventRejection(
                events[p.index].event_id, p.index, f"{p.field}: expected {p.expected}, "
                f"got {p.value!r}"
            )
            for p in problems
        )  # fmt: skip
        if not valid:
            return SendResult(accepted=0, rejections=rejections)
        failures: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        for key, value in unit_messages(valid):
            produce(self._producer, self.topic, key, value, delivered)
        deadline = time.monotonic() + self._timeout + 10  # reports come by message timeout
        while self._producer.flush(0.5) > 0:
            if time.monotonic() > deadline:
                raise RetryableSendError(f"Kafka did not confirm the batch in {self._timeout:g} s")
        if failures:
            raise RetryableSendError(f"Kafka refused {len(failures)} messages: {failures[0]}")
        return SendResult(len(valid), 0, rejections)

    def after_fork(self) -> None:
        """A forked child's own producer (the parent's threads did not survive the fork)."""
        self._producer = self._new_producer()

    def close(self) -> None:
        """Flush and release the producer."""
        self._producer.flush(self._timeout)
        self._producer.close()
