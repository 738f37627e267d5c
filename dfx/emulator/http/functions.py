"""HTTP-triggered functions on aiohttp: route matching, keys, request/response conversion, invocation logs."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from dfx.emulator.http.keys import HostKeys
from dfx.emulator.logs import HostConsole
from dfx.emulator.outputs import OutputWriter
from dfx.emulator.worker.converters import ConversionError, HttpResult, build_http_request, encode_http_result
from dfx.emulator.worker.functions import DURABLE_CLIENT, HTTP_TRIGGER, FunctionIndex, IndexedFunction
from dfx.emulator.worker.invoker import Invoker
from dfx.routes import RouteTemplate, join_route, parse_route

log = logging.getLogger(__name__)
HTTP_REASON = "This function was programmatically called via the host APIs."


@dataclass(frozen=True)
class HttpRoute:
    """One HTTP function at its full route (prefix included)."""

    function: IndexedFunction
    template: RouteTemplate

    @property
    def path(self) -> str:
        return self.template.template


def build_routes(index: FunctionIndex, route_prefix: str) -> list[HttpRoute]:
    """Every HTTP function's route, in the order to try them (ASP.NET precedence)."""
    routes = [HttpRoute(f, parse_route(join_route(route_prefix, f.route))) for f in index.http_functions()]
    return sorted(routes, key=lambda r: r.template.sort_key())


def supplied_key(request: web.Request) -> str | None:
    """The key a caller sent: ``code=`` in the query or the ``x-functions-key`` header."""
    return request.query.get("code") or request.headers.get("x-functions-key")


class FunctionRoutes:
    """Finds the HTTP function for a request, invokes it and turns its result into an aiohttp response."""

    def __init__(
        self,
        routes: list[HttpRoute],
        invoker: Invoker,
        console: HostConsole,
        *,
        keys: HostKeys | None,
        outputs: OutputWriter,
        client_binding: Callable[[web.Request, IndexedFunction], str],
    ) -> None:
        self.routes = routes
        self.invoker = invoker
        self.console = console
        self.keys = keys
        self.outputs = outputs
        self.client_binding = client_binding

    def match(self, request: web.Request) -> tuple[HttpRoute, dict[str, str]] | None:
        path = unquote(request.path).strip("/")
        method = request.method.upper()
        for route in self.routes:
            values = route.template.match(path)
            if values is not None and (
                method in route.function.methods or (method == "HEAD" and "GET" in route.function.methods)
            ):
                return route, values
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse | None:
        """The function's response, or None when no function route matches (the caller answers 404)."""
        found = self.match(request)
        if found is None:
            return None
        route, values = found
        function = route.function
        if self.keys is not None and not self.keys.allows(function.auth_level, supplied_key(request)):
            return web.Response(status=401)
        body = await request.read()
        http_request = build_http_request(
            request.method,
            str(request.url),
            request.headers.items(),
            request.query.items(),
            values,
            body,
        )
        inputs: dict[str, Any] = {}
        for parameter in function.parameters:
            if parameter.is_out:
                continue
            binding = next(b for b in function.bindings if b.name == parameter.name)
            if binding.type == HTTP_TRIGGER:
                inputs[parameter.name] = http_request
            elif binding.type == DURABLE_CLIENT:
                inputs[parameter.name] = self.client_binding(request, function)
            else:
                inputs[parameter.name] = None
        return await self._invoke(function, inputs, request)

    async def _invoke(self, function: IndexedFunction, inputs: dict[str, Any], request: web.Request) -> web.Response:
        invocation_id = str(uuid.uuid4())
        self.console.executing(function.name, invocation_id, HTTP_REASON)
        started = time.perf_counter()
        try:
            invocation = await self.invoker.invoke(
                function, inputs, invocation_id=invocation_id, trace_parent=request.headers.get("traceparent", "")
            )
            result = self._result(function, invocation.return_value, invocation.outputs)
            await self.outputs.write(function, invocation.outputs)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            self.console.error(
                f"Executed 'Functions.{function.name}' (Failed, Id={invocation_id}, Duration={elapsed:.0f}ms)"
            )
            self.console.error(f"System.Exception: Result: Failure\nException: {type(exc).__name__}: {exc}")
            self.console.plain("".join(traceback.format_exception(exc)).rstrip(), "red")
            return web.Response(status=500)
        self.console.executed(function.name, invocation_id, True, (time.perf_counter() - started) * 1000)
        response = web.Response(status=result.status, body=result.body)
        for name, value in result.headers:
            if name.lower() == "content-length":
                continue
            if name.lower() == "set-cookie":
                response.headers.add(name, value)
            else:
                response.headers[name] = value
        return response

    @staticmethod
    def _result(function: IndexedFunction, value: Any, outputs: dict[str, Any]) -> HttpResult:
        if function.return_binding_type == "http":
            return encode_http_result(value)
        http_outs = [b.name for b in function.bindings if b.type == "http" and b.is_out and b.name in outputs]
        if http_outs and outputs[http_outs[0]] is not None:
            return encode_http_result(outputs[http_outs[0]])
        if value is not None:
            raise ConversionError(f"function {function.name!r} has no HTTP output for its return value")
        return HttpResult(status=204)
