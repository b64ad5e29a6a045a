"""A web app stopped by SIGTERM delivers the events of every request it answered.

Real processes throughout: the example apps under uvicorn and gunicorn, a real `splitlab
serve` as the collector, the signal sent to the app's server process. Then the collector is
stopped (cleanly, see tests/server/test_sigterm.py) and its DuckDB file is read: every event
of every answered request must be there; with the collector down, in the spool instead,
with a warning on the app's stderr.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector.collector_helpers import free_port
from tests.server.serve_process import ServeProcess, stored_event_ids
from tests.tracking.app_process import (
    AppProcess,
    drive,
    example_definition,
    gunicorn_app,
    spooled_event_ids,
    uvicorn_app,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[ServeProcess]:
    """A real `splitlab serve` with the examples' experiment registered."""
    serve = ServeProcess(tmp_path / "collector.duckdb").start()
    try:
        serve.register(example_definition())
        yield serve
    finally:
        serve.stop(signal.SIGKILL)


def run_and_stop(app: AppProcess, users: int, signum: int = signal.SIGTERM) -> set[str]:
    """Start the app, drive ``users`` through it, stop it by ``signum``; the expected ids."""
    app.start()
    try:
        expected = drive(app.url, users)
        app.stop(signum)
    finally:
        app.stop(signal.SIGKILL)
    return expected


def delivered(collector: ServeProcess) -> set[str]:
    """The event ids in the collector's DuckDB file, after stopping it cleanly."""
    collector.stop(signal.SIGTERM)
    return stored_event_ids(collector.db)


def env_for(collector: ServeProcess) -> dict[str, str]:
    return {"SPLITLAB_COLLECTOR": collector.url, "SPLITLAB_SDK_KEY": collector.sdk_key}


@pytest.mark.parametrize("workers", [1, 2], ids=["1-process", "2-workers"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_fastapi_under_uvicorn_delivers_on_stop(
    collector: ServeProcess, signum: int, workers: int
) -> None:
    """uvicorn + examples/fastapi_app.py: after the signal, every answered request's events
    are in the store (closed at the ASGI lifespan shutdown)."""
    app = uvicorn_app(workers=workers, **env_for(collector))
    expected = run_and_stop(app, users=5, signum=signum)
    assert len(expected) == 15
    missing = expected - delivered(collector)
    assert not missing, f"{len(missing)} of {len(expected)} events never reached the store"


@pytest.mark.parametrize(
    "options",
    [(), ("--preload",), ("--worker-class", "gthread", "--threads", "4")],
    ids=["sync", "preload", "gthread"],
)
def test_flask_under_gunicorn_delivers_on_sigterm(
    collector: ServeProcess, options: tuple[str, ...]
) -> None:
    """gunicorn (2 workers) + examples/flask_app.py: SIGTERM to the master delivers every
    event, also with --preload (the client was created before the fork)."""
    app = gunicorn_app("flask_app", *options, **env_for(collector))
    expected = run_and_stop(app, users=6)
    missing = expected - delivered(collector)
    assert not missing, f"{len(missing)} of {len(expected)} events never reached the store"


def test_fastapi_under_gunicorn_uvicorn_workers_delivers_on_sigterm(
    collector: ServeProcess,
) -> None:
    """gunicorn with uvicorn workers + examples/fastapi_app.py: SIGTERM delivers all."""
    app = gunicorn_app(
        "fastapi_app", "--worker-class", "uvicorn.workers.UvicornWorker", **env_for(collector)
    )
    expected = run_and_stop(app, users=6)
    missing = expected - delivered(collector)
    assert not missing, f"{len(missing)} of {len(expected)} events never reached the store"


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_django_delivers_on_sigterm(collector: ServeProcess, server: str) -> None:
    """examples/django_app.py under gunicorn (WSGI, atexit) and uvicorn --workers 2 (ASGI,
    wrapped in CloseOnShutdown, the only hook there): SIGTERM delivers every event."""
    app = (
        gunicorn_app("django_app", **env_for(collector))
        if server == "gunicorn"
        else uvicorn_app("examples.django_app:asgi", workers=2, **env_for(collector))
    )
    expected = run_and_stop(app, users=5)
    missing = expected - delivered(collector)
    assert not missing, f"{len(missing)} of {len(expected)} events never reached the store"


def test_collector_down_at_sigterm_spools_every_event(tmp_path: Path) -> None:
    """Collector unreachable at SIGTERM: after a bounded wait every event is in the spool,
    and the app logs a warning naming it."""
    spool = tmp_path / "spool"
    app = uvicorn_app(
        SPLITLAB_COLLECTOR=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        SPLITLAB_SPOOL_DIR=str(spool),
        SPLITLAB_CLOSE_TIMEOUT="1",
    )
    expected = run_and_stop(app, users=4)
    assert spooled_event_ids(spool) == expected
    assert "spool" in app.stderr and str(spool) in app.stderr
