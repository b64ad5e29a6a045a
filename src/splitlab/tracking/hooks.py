"""The process hooks of a tracking client: interpreter exit, SIGTERM, and fork.

- ``atexit``: close the client when the interpreter exits normally;
- SIGTERM: close it when nothing else handles the signal, never swallowing it
  (:func:`splitlab.signals.chain_sigterm`);
- fork: give a forked child (gunicorn ``--preload``) a sender thread of its own, since a fork
  copies no thread. The fork hook holds the client weakly, so it never keeps one alive.
"""

from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Callable

from splitlab.signals import chain_sigterm


def _call_alive(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


class ProcessHooks:
    """Registers ``close`` at exit (and on SIGTERM) and ``after_fork`` in forked children."""

    def __init__(
        self,
        close: Callable[[], None],
        after_fork: Callable[[], None],
        *,
        at_exit: bool,
        on_sigterm: bool,
        close_timeout: float,
    ) -> None:
        self._close = close if at_exit else None
        if self._close is not None:
            atexit.register(self._close)
        # The SIGTERM handler waits for the close a little longer than the close itself takes.
        self._unhook_sigterm = chain_sigterm(close, close_timeout + 5.0) if on_sigterm else None
        child_hook = weakref.WeakMethod(after_fork)
        os.register_at_fork(after_in_child=lambda: _call_alive(child_hook))

    def remove(self) -> None:
        """Undo the exit and SIGTERM hooks (the client closed); the previous handler is back."""
        if self._close is not None:
            atexit.unregister(self._close)
            self._close = None
        if self._unhook_sigterm is not None:
            self._unhook_sigterm()
            self._unhook_sigterm = None
