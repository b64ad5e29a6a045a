"""A throwaway ClickHouse server in a directory of its own, for tests, benchmarks and trials.

``LocalServer(directory)`` writes a minimal configuration (HTTP on a free loopback port, data
under `directory`, one ``default`` user without a password reachable from 127.0.0.1 only)
and runs Debian's ``clickhouse-server`` as a child process. It is not a production setup.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from splitlab.store.clickhouse.http import ClickHouseError

logger = logging.getLogger(__name__)

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{dir}/log/server.log</log>
    <errorlog>{dir}/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <http_port>{http_port}</http_port>{tcp}
  <listen_host>127.0.0.1</listen_host>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>{extra}
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>{max_memory}</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</yandex>
"""

INSTALL_HINT = (
    "clickhouse-server was not found on PATH (nor in /usr/sbin); install it with "
    "scripts/install-system-deps.sh (Debian: apt-get install clickhouse-server)"
)


def find_binary() -> str | None:
    """The path of ``clickhouse-server``, or None when it is not installed."""
    found = shutil.which("clickhouse-server")
    if found:
        return found
    candidate = Path("/usr/sbin/clickhouse-server")
    return str(candidate) if os.access(candidate, os.X_OK) else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """``clickhouse-server`` with its configuration and data under `directory`."""

    def __init__(
        self,
        directory: Path | str,
        *,
        http_port: int | None = None,
        max_memory: int = 2 << 30,
        tcp_port: int | None = None,
        extra_config: str = "",
    ) -> None:
        """`tcp_port`: also serve the native protocol there (what a ``Distributed`` table on
        another server connects to); `extra_config`: more XML elements for the configuration
        (a ``remote_servers`` cluster: :mod:`.sharded`)."""
        binary = find_binary()
        if binary is None:
            raise ClickHouseError(INSTALL_HINT)
        self.binary = binary
        self.directory = Path(directory).resolve()
        self.http_port = http_port or free_port()
        self._max_memory = max_memory
        self.tcp_port = tcp_port
        self._extra_config = extra_config
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The HTTP address of the server."""
        return f"http://127.0.0.1:{self.http_port}/"

    def start(self, timeout: float = 30.0) -> None:
        """Write the configuration, start the server and wait until it answers ``/ping``."""
        for sub in ("data", "tmp", "log", "user_files", "format_schemas"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.xml"
        tcp = f"\n  <tcp_port>{self.tcp_port}</tcp_port>" if self.tcp_port else ""
        config.write_text(
            _CONFIG.format(
                dir=self.directory, http_port=self.http_port, tcp=tcp, extra=self._extra_config
            )
        )
        (self.directory / "users.xml").write_text(_USERS.format(max_memory=self._max_memory))
        output = (self.directory / "log" / "stdout.log").open("ab")
        self._process = subprocess.Popen(
            [self.binary, f"--config-file={config}"],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        output.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ClickHouseError(
                    f"clickhouse-server exited with status {self._process.returncode}; "
                    f"see {self.directory / 'log'}"
                )
            try:
                if httpx.get(self.url + "ping", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ClickHouseError(f"clickhouse-server did not answer on {self.url} within {timeout} s")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it does not exit within `timeout`)."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL, 30.0)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("clickhouse-server ignored %s; killing it", sig.name)
            process.kill()
            process.wait()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
