"""The host's listening socket: bound before anything else starts, so that a taken port is the first thing said.

``dfx start`` binds it before it starts Azurite or imports the app; under ``--watch`` the supervisor binds it
and every host it restarts inherits it.
"""

from __future__ import annotations

import errno
import socket

from dfx.errors import DfxError

PORT_HINT = "Stop what listens there, or choose another port with --port."


class PortUnavailableError(DfxError):
    """The port to serve on is taken or not allowed; the message names it and why."""

    hint = PORT_HINT


def listen_socket(port: int, host: str = "0.0.0.0") -> socket.socket:
    """A listening TCP socket on ``port``, inheritable (shared with each restarted host under ``--watch``)."""
    if not 1 <= port <= 65535:
        raise PortUnavailableError(f"Port {port} is not a port number from 1 to 65535.")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        why = "already in use" if exc.errno == errno.EADDRINUSE else f"unavailable ({exc.strerror or exc})"
        raise PortUnavailableError(f"Port {port} is {why}.") from exc
    sock.set_inheritable(True)
    return sock
