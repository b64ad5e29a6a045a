"""SIGKILL of the loader and of the collector mid-stream: after a restart every acknowledged
event is stored exactly once (real processes, a real Kafka-protocol broker)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import msgspec
from confluent_kafka import Producer

from splitlab.server.kafka_forward import messages
from splitlab.tracking.kafka import producer_config

from .pipeline import batches, load_until, stored, stored_ids
from .tansu import Broker, free_port

SPLITLAB = str(Path(sys.executable).with_name("splitlab"))


def test_sigkill_of_the_loader_mid_transaction_then_restart(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    # 400 batches of 10 units' messages: 200 loader transactions of 20 messages, so that the
    # kill (after the 5th transaction seen open) lands mid-stream even when the machine is
    # busy (with 40 transactions a loaded machine finished them all before the 5th was seen).
    sent = batches("k", 400, 50, units=10)
    producer = Producer(producer_config(broker.bootstrap))
    encode = msgspec.json.Encoder().encode_lines
    for batch in sent:
        for key, value in messages(encode(batch)):
            producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0
    total = sum(len(b) for b in sent)
    db = tmp_path / "loaded.duckdb"
    scratch = Path(f"{db}.kafka-loading.ndjson")
    command = [SPLITLAB, "load-kafka", "--db", str(db), "--kafka", broker.bootstrap,
               "--kafka-topic", topic, "--batch", "20"]  # fmt: skip
    loader = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    seen = 0
    while seen < 5 and loader.poll() is None and time.monotonic() < deadline:
        if scratch.exists():  # a batch is being loaded: its transaction is open
            seen += 1
            if seen < 5:
                while scratch.exists() and time.monotonic() < deadline:
                    time.sleep(0.001)
        else:
            time.sleep(0.001)
    loader.send_signal(signal.SIGKILL)
    loader.wait(10)
    with duckdb.connect(str(db), read_only=True) as con:
        partial = stored(con)
    assert 0 < partial < total, "the kill must land mid-stream"
    done = subprocess.run(
        [*command, "--exit-when-idle", "2"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert Counter(stored_ids(db)) == Counter(e.event_id for b in sent for e in b)


def test_sigkill_of_the_collector_mid_stream_then_restart(
    broker: Broker, topic: str, tmp_path: Path
) -> None:
    """Clients retry each batch until acknowledged; the collector is SIGKILLed under load and
    restarted; all events reach the topic's loaded copy exactly once."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "splitlab.server.kafka_forward", "--db",
               str(tmp_path / "collector.duckdb"), "--port", str(port), "--kafka",
               broker.bootstrap, "--topic", topic]  # fmt: skip

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    return process
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the collector did not start")

    clients = [batches(f"c{n}", 60, 50) for n in range(4)]
    acknowledged = [0]
    lock = threading.Lock()

    def client(mine: list[list[object]]) -> None:
        with httpx.Client(timeout=10) as http:
            for batch in mine:
                content = msgspec.json.encode(batch)
                while True:  # the same batch (same eventIds) until acknowledged
                    try:
                        response = http.post(f"{url}/v1/events", content=content)
                        if response.status_code == 200:
                            with lock:
                                acknowledged[0] += 1
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.02)

    process = start()
    threads = [threading.Thread(target=client, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    while acknowledged[0] < 60:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed_at = acknowledged[0]
    process = start()
    for thread in threads:
        thread.join(120)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    assert 60 <= killed_at < 240 and acknowledged[0] == 240
    sent = [e.event_id for c in clients for b in c for e in b]
    db = tmp_path / "loaded.duckdb"
    assert load_until(db, broker.bootstrap, topic, len(sent)) == len(sent)
    assert Counter(stored_ids(db)) == Counter(sent)
