"""An example web app (examples/) in a real server process, and the events it must deliver.

The app's tracking client posts to a real collector (`splitlab serve`); each request the app
answered is turned into the event ids the middleware derives for it, so a test can check that
exactly those events reached the store (or the spool).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from splitlab.tracking.events import Event
from splitlab.tracking.middleware import derive_event_id
from tests.collector.collector_helpers import free_port
from tests.server.serve_process import ROOT, child_env, stop_reading_stderr, wait_healthy

EXPERIMENT = "exp-one-page-checkout"


def example_definition() -> dict[str, object]:
    """The experiment of examples/fastapi_app.py and flask_app.py, to register on the server."""
    return {
        "experimentId": EXPERIMENT,
        "name": "One-page checkout",
        "status": "running",
        "trafficAllocation": 1.0,
        "variants": ["classic", "one-page"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "2026-q4"},
        "metrics": {"primary": {"name": "checkout_completed", "type": "conversion"}},
        "evaluation": {"minSampleSize": 5000},
    }


@dataclass
class AppProcess:
    """A web server process running an example app; ``command`` gets ``{port}`` filled in."""

    command: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    stderr: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppProcess:
        command = [part.format(port=self.port) for part in self.command]
        self.process = subprocess.Popen(
            command, env=child_env(**self.env), cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        wait_healthy(self.url, self.process, " ".join(command), path="/checkout")
        return self

    def stop(self, signum: int = signal.SIGTERM) -> int:
        assert self.process is not None
        code, text = stop_reading_stderr(self.process, signum)
        self.stderr = text or self.stderr
        return code


def uvicorn_app(
    target: str = "examples.fastapi_app:app", *, workers: int = 1, **env: str
) -> AppProcess:
    """``uvicorn [--workers N] target`` (lifespan on, uvicorn's default).

    With one process uvicorn imports the app before it installs its signal handlers, so the
    client's own SIGTERM handler is called last. With ``--workers`` each worker imports the
    app inside uvicorn's handlers: there only the lifespan shutdown can close the client.
    """
    command = [sys.executable, "-m", "uvicorn", target, "--workers", str(workers),
               "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]  # fmt: skip
    return AppProcess(command, env)


def gunicorn_app(module: str, *options: str, **env: str) -> AppProcess:
    """``gunicorn --workers 2 examples.<module>:app`` with extra options (a worker class)."""
    import gunicorn.config

    if hasattr(gunicorn.config, "ControlSocketDisable"):  # no socket in the shared home dir
        options = ("--no-control-socket", *options)
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:{port}",
               "--graceful-timeout", "20", *options, f"examples.{module}:app"]  # fmt: skip
    return AppProcess(command, env)


def drive(app_url: str, users: int) -> set[str]:
    """Each user loads the page and checks out once; the event ids of every answered request.

    The ids are the ones the middleware derives: the exposure from (experiment, variant,
    unit), the two metric events from the request's Idempotency-Key.
    """
    expected: set[str] = set()
    with httpx.Client(base_url=app_url, timeout=10) as http:
        for n in range(users):
            unit = f"user-{n}"
            page = http.get("/checkout", headers={"X-User-Id": unit})
            assert page.status_code == 200, page.text
            variant = page.json()["layout"]
            expected.add(derive_event_id("exposure", unit, EXPERIMENT, variant))
            key = f"order-{n}"
            headers = {"X-User-Id": unit, "Idempotency-Key": key, "X-Request-Id": key}
            done = http.post("/checkout", params={"amount": 10 + n}, headers=headers)
            assert done.json() == {"ok": True}, done.text
            for metric in ("checkout_completed", "revenue"):
                expected.add(derive_event_id("metric", key, unit, EXPERIMENT, metric, "0"))
    return expected


def spooled_event_ids(spool: Path) -> set[str]:
    """The event ids in a tracking client's spool directory."""
    ids: set[str] = set()
    for segment in spool.glob("*.jsonl"):
        for line in segment.read_bytes().splitlines():
            ids.add(msgspec.json.decode(line, type=Event).event_id)
    return ids
