"""Stopping a host answers every connection it accepted (``dfx.emulator.http.drain``), in one process on loopback.

Two "hosts" serve one listening socket in turn, as under ``dfx start --watch`` (the supervisor keeps the socket;
each host gets its own descriptor of it): a request sent while the first stops is answered by one of them.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from dfx.emulator.http import drain as drain_module
from dfx.emulator.http.drain import Drain

REQUEST = b"GET /name HTTP/1.1\r\nHost: localhost\r\n\r\n"


class Host:
    """An aiohttp server with a ``Drain`` on its own descriptor of a shared listening socket."""

    def __init__(self, name: str, listener: socket.socket) -> None:
        self.name = name
        self.sock = listener.dup()
        self.drain = Drain()
        self.release = asyncio.Event()
        app = web.Application(middlewares=[self.drain.middleware])
        app.router.add_get("/name", self.answer)
        app.router.add_get("/slow", self.slow)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)

    async def answer(self, request: web.Request) -> web.Response:
        return web.Response(text=self.name)

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(text="finished")

    async def start(self) -> Host:
        await self.runner.setup()
        self.drain.attach(self.runner)
        await web.SockSite(self.runner, self.sock).start()
        return self

    async def stop(self) -> None:
        await self.drain.stop(self.runner, self.sock, "The host is restarting")


@pytest.fixture
async def listener() -> AsyncIterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=64)
    sock.setblocking(False)
    yield sock
    sock.close()


async def connect(listener: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])


async def answer(reader: asyncio.StreamReader, timeout: float = 5.0) -> str:
    """What came back on a connection: the HTTP answer, or why there was none."""
    try:
        data = await asyncio.wait_for(reader.read(), timeout)
    except ConnectionError as exc:
        return f"no answer: {type(exc).__name__}"
    return data.decode() if data else "no answer: closed"


@pytest.mark.parametrize("iterations", range(6))
async def test_requests_arriving_while_a_host_stops_are_answered_by_it_or_the_next(
    listener: socket.socket, iterations: int
):
    """Connections queued, being accepted (CPython gh-109564) or accepted with no request yet all get answers."""
    clients = [await connect(listener) for _ in range(4)]
    for _, writer in clients[:3]:
        writer.write(REQUEST)  # the fourth sends once the first host is stopping
    first = await Host("first", listener).start()
    for _ in range(iterations):  # stop at each point of asyncio's accept: queued, accepted, transport made, …
        await asyncio.sleep(0)
    stopping = asyncio.create_task(first.stop())
    await asyncio.sleep(0.05)
    clients[3][1].write(REQUEST)
    await stopping
    second = await Host("second", listener).start()
    try:
        answers = [await answer(reader) for reader, _ in clients]
    finally:
        await second.stop()
        for _, writer in clients:
            writer.close()
    assert all(a.startswith("HTTP/1.1 200 OK") and a.endswith(("first", "second")) for a in answers), answers


async def test_a_connection_that_sends_nothing_is_closed_after_the_grace(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(drain_module, "FIRST_REQUEST_GRACE", 0.2)
    host = await Host("first", listener).start()
    idle_reader, idle_writer = await connect(listener)
    kept_reader, kept_writer = await connect(listener)
    kept_writer.write(REQUEST)  # answered, then idle with keep-alive: closed at once, as any server does
    assert (await kept_reader.readuntil(b"first")).startswith(b"HTTP/1.1 200 OK")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await host.stop()
    assert 0.2 <= loop.time() - started < 1.0
    assert await answer(idle_reader) == "no answer: closed"
    assert await kept_reader.read() == b""
    idle_writer.close()
    kept_writer.close()


async def test_a_request_still_running_at_the_deadline_gets_503_with_the_reason(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(drain_module, "FINISH_DEADLINE", 0.3)
    host = await Host("first", listener).start()
    slow_reader, slow_writer = await connect(listener)
    slow_writer.write(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
    while not host.drain.running:
        await asyncio.sleep(0.01)
    await host.stop()
    reply = await answer(slow_reader)
    assert reply.startswith("HTTP/1.1 503 Service Unavailable") and "Connection: close" in reply
    body = json.loads(reply.split("\r\n\r\n", 1)[1])
    assert body == {"Message": "The host is restarting; the request did not finish within 0.3 s."}
    slow_writer.close()


async def test_a_request_that_finishes_within_the_deadline_gets_its_answer(listener: socket.socket):
    host = await Host("first", listener).start()
    reader, writer = await connect(listener)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
    while not host.drain.running:
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(host.stop())
    await asyncio.sleep(0.1)
    host.release.set()
    await stopping
    reply = await answer(reader)
    assert reply.startswith("HTTP/1.1 200 OK") and reply.endswith("finished") and "Connection: close" in reply
    writer.close()
