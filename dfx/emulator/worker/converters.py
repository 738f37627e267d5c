"""Turn host data into the Python objects functions receive, and their results back (host-protocol §1.5–1.6)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from azure.functions import meta
from azure.functions.http import HttpRequest


def _join_repeated(pairs: Iterable[tuple[str, str]], *, lower: bool, drop_empty: bool) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        if drop_empty and value == "":
            continue
        name = key.lower() if lower else key
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def build_http_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
    route_params: dict[str, str],
    body: bytes,
) -> HttpRequest:
    """The ``func.HttpRequest`` the worker builds: lower-case headers and repeated keys joined with ``,``."""
    return HttpRequest(
        method=method,
        url=url,
        headers=_join_repeated(headers, lower=True, drop_empty=False),
        params=_join_repeated(query, lower=False, drop_empty=True),
        route_params=dict(route_params),
        body_type="bytes",
        body=body,
    )


@dataclass
class HttpResult:
    """An HTTP answer in host terms: status, headers (repeatable) and body bytes."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class ConversionError(TypeError):
    """A function returned something its output binding cannot carry."""


def encode_http_result(value: Any) -> HttpResult:
    """Convert a function's HTTP output (``func.HttpResponse`` or ``str``) as the worker's converter does."""
    converter = meta.get_binding_registry().get("http")
    try:
        datum = converter.encode(value, expected_type=None)
    except NotImplementedError:
        raise ConversionError(
            f'unable to encode outgoing TypedData: unsupported type "http" for Python type "{type(value).__name__}"'
        ) from None
    if datum.type == "string":
        return HttpResult(200, [("Content-Type", "text/plain; charset=utf-8")], str(datum.value).encode("utf-8"))
    response = datum.value
    headers = [(name, item.value) for name, item in response["headers"].items()]
    for cookie in response.get("cookies") or []:
        headers.extend(("Set-Cookie", morsel.OutputString()) for morsel in cookie.values())
    body = response["body"].value or b""
    return HttpResult(int(response["status_code"].value), headers, body if isinstance(body, bytes) else bytes(body))


def call_durable_trigger(function: Any, payload: str) -> str:
    """Call an orchestrator or entity ``handle`` with its trigger payload, as the worker does (§1.7)."""
    converter = meta.get_binding_registry().get(function.trigger_type)
    context = converter.decode(meta.Datum(payload, "string"), trigger_metadata=None)
    return str(function.callable(**{function.trigger.name: context}))
