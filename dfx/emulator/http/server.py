"""The host's aiohttp application: function routes, CORS, the status page, and a place for the durable APIs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from dfx.emulator.http.drain import Drain
from dfx.emulator.http.functions import FunctionRoutes

#: The Functions host's default request size limit (``maxRequestBodySize``, 100 MB).
MAX_REQUEST_BYTES = 100 * 1024 * 1024
TOO_LARGE_MESSAGE = f"The request body is larger than {MAX_REQUEST_BYTES} bytes."
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class HostState:
    """What the HTTP layer serves right now: the function routes, or why there are none."""

    functions: FunctionRoutes | None = None
    load_error: str | None = None
    extra: dict[str, Handler] = field(default_factory=dict)
    """Path prefixes (``/runtime/webhooks/durabletask/``) served by other parts of the host."""


def _cors_middleware(origins: tuple[str, ...], credentials: bool) -> Callable[..., Awaitable[web.StreamResponse]]:
    allow_all = "*" in origins

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and (allow_all or origin in origins)
        if allowed and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if allowed and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = "*" if allow_all and not credentials else origin
            response.headers.add("Vary", "Origin")
            if credentials:
                response.headers["Access-Control-Allow-Credentials"] = "true"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                wanted = request.headers.get("Access-Control-Request-Headers")
                if wanted:
                    response.headers["Access-Control-Allow-Headers"] = wanted
        return response

    return cors


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data, separators=(",", ":")), content_type="application/json", charset="utf-8"
    )


def create_app(
    state: HostState, *, cors: tuple[str, ...] = (), cors_credentials: bool = False, drain: Drain | None = None
) -> web.Application:
    """The aiohttp application for one host process; ``drain`` tracks its requests so that it stops dropping none."""
    middlewares = [_cors_middleware(cors, cors_credentials)] if cors else []
    if drain is not None:  # innermost: its 503 for a request given up on gets the CORS headers too
        middlewares.append(drain.middleware)
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=middlewares)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        for prefix, handler in state.extra.items():
            if request.path.startswith(prefix):
                return await handler(request)
        if request.path == "/admin/host/status":
            return _json(
                {
                    "state": "Error" if state.load_error else "Running",
                    "errors": [state.load_error] * bool(state.load_error),
                }
            )
        if state.load_error is not None:
            return _json({"Message": "Function host is not running.", "Error": state.load_error}, status=503)
        if state.functions is not None:
            try:
                response = await state.functions.handle(request)
            except web.HTTPRequestEntityTooLarge:
                return _json({"Message": TOO_LARGE_MESSAGE}, 413)
            if response is not None:
                return response
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return web.Response(text="Your dfx Functions host is up and running.\n", content_type="text/plain")
        return web.Response(status=404)

    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
