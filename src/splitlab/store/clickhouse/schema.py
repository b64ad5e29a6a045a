"""The ClickHouse tables, and log records turned into rows for them.

Both tables are ``ReplacingMergeTree``: rows with an equal sorting key (which ends in
``event_id``, so a retried event, identical in every field, has an equal key) are merged into
one in the background. Merging happens at an unknown time, so the summary does not rely on it:
metric events are deduplicated by ``event_id`` in the query (see :mod:`.sql`), and exposures
need no deduplication there because everything computed from them (first exposure time, its
variant and attributes, the number of distinct variants) is the same with a duplicate row.

Timestamps are ``Int64`` epoch milliseconds (ClickHouse 18.16 has no ``DateTime64``), as in
the DuckDB store. An exposure's segment attributes are two parallel arrays of keys and values,
each value rendered the way DuckDB's ``attributes ->> key`` renders it: strings as they are,
booleans as ``true``/``false``, numbers as their JSON text.

``cluster_id`` (``Nullable(String)``, the event's ``clusterId``) came later: tables made by an
older splitlab get it from :data:`ADD_COLUMNS` when a loader starts (ClickHouse 18.16 has no
``ADD COLUMN IF NOT EXISTS``, so the loader reads ``system.columns`` first).
"""

from __future__ import annotations

import msgspec

from splitlab.tracking.events import AttributeValue, Event

EXPOSURES = "exposures"
METRIC_EVENTS = "metric_events"
#: One marker row per running loader; rows of a Memory table vanish when the server restarts.
ALIVE = "loader_alive"

SCHEMA = (
    "CREATE DATABASE IF NOT EXISTS {db}",
    """CREATE TABLE IF NOT EXISTS {db}.exposures (
    event_id String,
    experiment_id String,
    variant String,
    unit_id String,
    ts Int64,
    attr_keys Array(String),
    attr_values Array(String),
    cluster_id Nullable(String)
) ENGINE = ReplacingMergeTree() ORDER BY (experiment_id, unit_id, ts, event_id)""",
    """CREATE TABLE IF NOT EXISTS {db}.metric_events (
    event_id String,
    experiment_id String,
    variant String,
    unit_id String,
    metric String,
    value Float64,
    ts Int64,
    cluster_id Nullable(String)
) ENGINE = ReplacingMergeTree() ORDER BY (experiment_id, metric, unit_id, ts, event_id)""",
    "CREATE TABLE IF NOT EXISTS {db}.loader_alive (token String) ENGINE = Memory",
)

#: Columns added after the first release: (table, column, type), added where missing.
ADD_COLUMNS = (
    (EXPOSURES, "cluster_id", "Nullable(String)"),
    (METRIC_EVENTS, "cluster_id", "Nullable(String)"),
)


class _ExposureRow(msgspec.Struct, gc=False):
    event_id: str
    experiment_id: str
    variant: str
    unit_id: str
    ts: int
    attr_keys: list[str]
    attr_values: list[str]
    cluster_id: str | None


class _MetricRow(msgspec.Struct, gc=False):
    event_id: str
    experiment_id: str
    variant: str
    unit_id: str
    metric: str
    value: float
    ts: int
    cluster_id: str | None


def attribute_text(value: AttributeValue) -> str:
    """An attribute value as DuckDB's ``->>`` gives it (the segment label)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return msgspec.json.encode(value).decode()


class RowEncoder:
    """Turns log records (newline-delimited JSON events) into ``JSONEachRow`` bodies."""

    def __init__(self) -> None:
        self._decoder = msgspec.json.Decoder(Event)
        self._encoder = msgspec.json.Encoder()

    def rows(self, payloads: list[bytes]) -> tuple[bytes, bytes]:
        """The exposure rows and the metric rows of the events in `payloads`."""
        exposures: list[_ExposureRow] = []
        metrics: list[_MetricRow] = []
        for payload in payloads:
            for event in self._decoder.decode_lines(payload):
                if event.type == "exposure":
                    attributes = event.attributes or {}
                    exposures.append(
                        _ExposureRow(
                            event.event_id,
                            event.experiment_id,
                            event.variant,
                            event.unit_id,
                            event.timestamp,
                            list(attributes),
                            [attribute_text(v) for v in attributes.values()],
                            event.cluster_id,
                        )
                    )
                else:
                    metrics.append(
                        _MetricRow(
                            event.event_id,
                            event.experiment_id,
                            event.variant,
                            event.unit_id,
                            event.metric or "",
                            1.0 if event.value is None else event.value,
                            event.timestamp,
                            event.cluster_id,
                        )
                    )
        return (
            self._encoder.encode_lines(exposures),
            self._encoder.encode_lines(metrics),
        )
