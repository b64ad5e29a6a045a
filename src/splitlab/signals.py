"""SIGTERM, the signal systemd, Docker and Kubernetes stop a process with, handled like SIGINT.

Python turns SIGINT into :class:`KeyboardInterrupt`, so ``finally`` blocks and ``with`` exits
run and a store is closed cleanly. SIGTERM's default action kills the process on the spot:
no ``finally``, no ``atexit``. Two tools, for two kinds of process:

- :func:`sigterm_unwinds`, for processes splitlab owns (``splitlab serve``, ``demo``,
  ``scheduler``, the standalone collector): SIGTERM raises :class:`Terminated` in the main
  thread, the stack unwinds through every ``finally``, and at the end the process still dies
  of SIGTERM (the default action, re-delivered), as a supervisor expects. uvicorn re-raises a
  SIGTERM it captured once its own graceful shutdown is over; this is what then turns it into
  a clean stop rather than an instant death.
- :func:`chain_sigterm`, for a library inside someone else's process (the tracking client in
  a web app): never swallows the host's signal. When the host handles SIGTERM itself (a
  Python handler), that handler is called and nothing else happens: the host shuts down its
  way, and closes the client through its shutdown hook or at exit. When nothing handles it
  (the default action), the callback runs first (bounded by its own timeout), then the
  default action is re-delivered, so the process exits as it would have.

Both only act in the main thread (the only thread Python lets install a signal handler).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Terminated(BaseException):
    """SIGTERM arrived: unwinds the stack like :class:`KeyboardInterrupt` does for SIGINT.

    A ``BaseException``, so an ``except Exception`` on the way does not swallow it.
    """


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def die_of(signum: int) -> None:
    """End the process by the default action of ``signum`` (after flushing stdout/stderr)."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # closed or broken pipe: nothing more to say
            stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside: SIGTERM raises :class:`Terminated`; at the end the process dies of SIGTERM.

    A second SIGTERM while the first is being handled (the ``finally`` blocks closing a
    store) is logged and ignored, so it cannot cut the clean stop short; SIGKILL still can.
    Outside the main thread this does nothing.
    """
    if not _in_main_thread():
        yield
        return
    received = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        if received:
            logger.warning("SIGTERM again: still stopping cleanly (SIGKILL stops at once)")
            return
        received = True
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated:
        pass
    except BaseException:
        # A library may turn the handler's exception into its own: DuckDB, interrupted inside
        # a query (opening a store that catches up), raises "Query interrupted" instead. After
        # SIGTERM the process still stops by the signal, once the stack has unwound.
        if not received:
            raise
        logger.info("SIGTERM arrived during a call that raised its own error; stopping")
    finally:
        if not received:
            signal.signal(signal.SIGTERM, previous)
    if received:
        logger.info("stopped cleanly on SIGTERM")
        die_of(signal.SIGTERM)


def chain_sigterm(on_default: Callable[[], None], timeout: float) -> Callable[[], None] | None:
    """Install a SIGTERM handler that runs ``on_default`` when nothing else handles SIGTERM.

    The previous handler is kept: a Python handler is called (``on_default`` is not: the host
    decides how it stops), ``SIG_IGN`` keeps the signal ignored, and the default action (or
    a handler set outside Python) first runs ``on_default`` and then re-delivers the default
    action. ``on_default`` runs on a helper thread joined for at most ``timeout`` seconds, so
    a lock the interrupted main thread holds cannot hang the stop. Returns a function that
    removes the handler again (when it is still the current one), or None outside the main
    thread, where nothing is installed.
    """
    if not _in_main_thread():
        return None
    previous: Handler = signal.getsignal(signal.SIGTERM)

    def run_bounded() -> None:
        def guarded() -> None:
            try:
                on_default()
            except Exception:  # the process must still stop
                logger.exception("closing on SIGTERM failed")

        helper = threading.Thread(target=guarded, name="splitlab-sigterm", daemon=True)
        helper.start()
        helper.join(timeout)
        if helper.is_alive():
            logger.warning("closing on SIGTERM took more than %.1f s; stopping anyway", timeout)

    def handler(signum: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(signum, frame)
            return
        if previous == signal.SIG_IGN:
            return
        run_bounded()
        die_of(signum)

    signal.signal(signal.SIGTERM, handler)

    def remove() -> None:
        if _in_main_thread() and signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return remove
