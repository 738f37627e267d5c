"""Stopping a host without leaving a request unanswered (hot reload hands the listening socket to the next host).

aiohttp's shutdown closes every connection that has no request in progress, and from then on ignores what
arrives on it. A connection the host accepted just before it was told to stop usually has its request still on
the way (in the kernel, or not yet parsed), so the client would see the connection closed with no answer
(``RemoteDisconnected``). Under ``--watch`` that is a request sent while the host is being swapped.

``Drain`` stops accepting first — connections not accepted yet stay queued on the supervisor's socket for the
next host — then waits until every accepted connection has brought its request and been answered (with
``Connection: close``). A connection that sends nothing for ``FIRST_REQUEST_GRACE`` seconds (a browser's
speculative connection) is closed as before; a request still running after ``FINISH_DEADLINE`` seconds is
answered ``503`` with the reason. Idle keep-alive connections are closed at once, as any HTTP server closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

#: Seconds a connection accepted before the stop may take to send its first request.
FIRST_REQUEST_GRACE = 1.0
#: Seconds requests that are running (or arrive on those connections) get to finish before they are answered 503.
FINISH_DEADLINE = 3.0
#: Seconds between looks at the connections while draining.
POLL_INTERVAL = 0.01
#: Connections remembered before the closed ones are forgotten (the bound grows with the open ones).
PRUNE_AT = 256
#: Event-loop iterations between the last accept and closing the server (asyncio needs two to hand one over).
SETTLE_ITERATIONS = 5

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Drain:
    """Tracks the requests of one aiohttp server and stops it without dropping one (see the module doc)."""

    def __init__(self) -> None:
        self.server: web.Server | None = None
        self.seen: set[object] = set()
        """Connections (aiohttp protocols, which take no weak references) that brought at least one request."""
        self._prune_at = PRUNE_AT
        self.running: dict[asyncio.Task[object], object] = {}
        """The task of each request in progress, with its connection."""
        self.draining = False
        self.giving_up = False
        self.reason = "The host is stopping"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count the request as running; answer 503 if the drain gives up on it; close its connection after."""
        protocol = request.protocol
        if len(self.seen) >= self._prune_at and self.server is not None:  # forget closed connections
            self.seen &= set(self.server.connections)
            self._prune_at = 2 * len(self.seen) + PRUNE_AT
        self.seen.add(protocol)
        task = asyncio.current_task()
        if task is not None:
            self.running[task] = protocol
        try:
            response = await handler(request)
        except asyncio.CancelledError:
            if not self.giving_up or task is None:
                raise
            if hasattr(task, "uncancel"):  # Python 3.11+: this cancel is handled here
                task.uncancel()
            response = web.Response(
                status=503,
                text=json.dumps(
                    {"Message": f"{self.reason}; the request did not finish within {FINISH_DEADLINE:g} s."},
                    separators=(",", ":"),
                ),
                content_type="application/json",
                charset="utf-8",
            )
        finally:
            if task is not None:
                self.running.pop(task, None)
        if self.draining:
            response.force_close()
        return response

    def attach(self, runner: web.BaseRunner) -> None:
        """Watch the connections of ``runner`` (after its ``setup``)."""
        self.server = runner.server

    def _waiting(self, server: web.Server, elapsed: float) -> list[object]:
        """Connections that still owe an answer: a request running, or none yet and still within the grace."""
        running = set(self.running.values())
        return [
            connection
            for connection in server.connections
            if connection in running or (connection not in self.seen and elapsed < FIRST_REQUEST_GRACE)
        ]

    async def stop(self, runner: web.BaseRunner, sock: socket.socket, reason: str) -> None:
        """Stop accepting on ``sock``, answer what was accepted, then clean ``runner`` up (sites first)."""
        self.draining = True
        self.reason = reason
        loop = asyncio.get_running_loop()
        # Stop accepting before the server is closed: asyncio sets a connection it accepted up a loop iteration
        # later, in a task, and one whose server was closed meanwhile is dropped without a word (CPython
        # gh-109564: Server._attach asserts the server is open). So: no more accepts, let those tasks make their
        # transports and reach aiohttp, then close.
        with contextlib.suppress(NotImplementedError, ValueError, OSError):
            loop.remove_reader(sock.fileno())
        for _ in range(SETTLE_ITERATIONS):
            await asyncio.sleep(0)
        for site in list(runner.sites):
            await site.stop()
        server = runner.server
        started = loop.time()
        if server is not None:
            while self._waiting(server, loop.time() - started) and loop.time() - started < FINISH_DEADLINE:
                await asyncio.sleep(POLL_INTERVAL)
        if self.running:
            self.giving_up = True
            for task in list(self.running):
                task.cancel()
            given_up = loop.time()
            while self.running and loop.time() - given_up < 1.0:
                await asyncio.sleep(POLL_INTERVAL)
        await runner.cleanup()
