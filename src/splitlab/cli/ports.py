"""Is the port free? Asked before a long set-up, so a taken port fails at once, not at the end."""

from __future__ import annotations

import errno
import socket

from splitlab.errors import SplitlabError


class PortUnavailableError(SplitlabError):
    """The server could not listen on the host and port asked for."""

    code = "port_unavailable"


def ensure_port_free(host: str, port: int) -> None:
    """Raise :class:`PortUnavailableError` unless a server could listen on ``host:port`` now.

    The probe binds with ``SO_REUSEADDR``, as uvicorn does, so a port left in TIME_WAIT by a
    server that just stopped counts as free, and a port another process listens on does not.
    Port 0 (any free port) is always free.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise PortUnavailableError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortUnavailableError(
                    f"--port {port}: port {port} on {host} is already in use (another "
                    f"`splitlab serve` or `splitlab demo`?); pick a free one with --port, "
                    f"e.g. --port {port + 1 if port < 65535 else 8000}"
                ) from None
            raise PortUnavailableError(
                f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
            ) from None
