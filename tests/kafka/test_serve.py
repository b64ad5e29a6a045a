"""`splitlab serve --kafka`: the real server publishes what it acknowledges, through a SIGKILL
and a restart; the loaded topic holds exactly the events of the server's own file."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

from tests.server.serve_process import ARTICLE, ServeProcess, Traffic

from .pipeline import load_until, stored_ids
from .tansu import Broker


def test_serve_publishes_every_acknowledged_event(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    db = tmp_path / "server.duckdb"
    server = ServeProcess(db, "--no-scheduler", "--kafka", broker.bootstrap,
                          "--kafka-topic", topic)  # fmt: skip
    server.start()
    server.register(json.loads(ARTICLE.read_text()))
    traffic = Traffic(server.url, server.admin)
    with traffic.running():
        traffic.wait_for(600)
        server.stop(signal.SIGKILL)  # mid-stream
    acknowledged = set(traffic.acknowledged)
    server.start()  # forwards what the log holds beyond its recorded position
    server.stop(signal.SIGTERM)
    direct = stored_ids(db)  # the server's own file: every durable event, once
    loaded = tmp_path / "loaded.duckdb"
    assert load_until(loaded, broker.bootstrap, topic, len(direct)) == len(direct)
    assert Counter(stored_ids(loaded)) == Counter(direct)
    assert acknowledged <= set(direct)
