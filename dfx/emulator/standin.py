"""Answers on the supervisor's listening socket while no host runs: every request gets a 503 that says why.

Under ``--watch`` the socket outlives the hosts. When a host dies on its own (killed, a crash in native code,
``os._exit`` in user code), requests would otherwise wait in the kernel's backlog with no answer until the next
host starts. The stand-in accepts them and answers ``503`` with the host's body shape (``Message`` / ``Error``)
and ``Retry-After``; it is stopped before the next host is spawned, so the two never accept from one socket.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time

#: Seconds a connection gets to send its request head (and a body it announced) before it is answered anyway.
READ_TIMEOUT = 2.0
#: Bytes of request read at most; the rest is not waited for.
READ_LIMIT = 1 << 20


class Standin:
    """A thread that answers 503 on ``sock`` until ``stop()``; ``reason`` may change while it runs."""

    def __init__(self, sock: socket.socket, reason: str, retry_after: float) -> None:
        self.sock = sock
        self.reason = reason
        self.retry_after = retry_after
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dfx-standin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; connections already accepted are answered by their own threads."""
        self._stopped.set()
        self._thread.join()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], 0.05)
                if not readable or self._stopped.is_set():
                    continue
                connection, _ = self.sock.accept()
            except OSError:
                if self._stopped.wait(0.05):
                    return
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.settimeout(READ_TIMEOUT)
                _read_request(connection)
                body = json.dumps({"Message": "Function host is not running.", "Error": self.reason}).encode()
                head = (
                    "HTTP/1.1 503 Service Unavailable\r\n"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    f"Retry-After: {max(1, round(self.retry_after))}\r\n"
                    "Connection: close\r\n\r\n"
                )
                connection.sendall(head.encode("ascii") + body)
                connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the client went away; nothing to answer


def _read_request(connection: socket.socket) -> None:
    """Read the request head and the body it announces (so closing does not reset the answer away)."""
    data = b""
    deadline = time.monotonic() + READ_TIMEOUT
    while b"\r\n\r\n" not in data and len(data) < READ_LIMIT and time.monotonic() < deadline:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    remaining = min(length, READ_LIMIT) - len(body)
    while remaining > 0 and time.monotonic() < deadline:
        chunk = connection.recv(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)
