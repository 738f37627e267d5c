"""Request input for the durable HTTP APIs: the body and the query values, read once and checked whole.

Every route of the management API, the RPC API and the entity routes reads its body and its typed query values
through these helpers, so that input no route can take is refused the same way everywhere: an oversized body
with 413, JSON the extension would not read (or that storage could not hold) and unreadable date-times with
400, each with a message that says what is wrong. Nothing here touches storage.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from dfx.emulator.durable.client import ClientError
from dfx.emulator.http.server import MAX_REQUEST_BYTES, TOO_LARGE_MESSAGE
from dfx.model.encoding import compact_json, parse_datetime, to_utc

#: Newtonsoft's default ``MaxDepth`` (13.0.1 and later): the extension refuses JSON nested deeper.
MAX_JSON_DEPTH = 64
JSON_READER_EXCEPTION = "Newtonsoft.Json.JsonReaderException"
_INT32_MAX = 2**31 - 1


class BadJson(ValueError):
    """JSON text the extension would not read or storage could not hold; the message says where and why."""


class InvalidJsonContent(ClientError):
    """The extension's answer to a bad orchestration body: ``Invalid JSON content`` and the reader's error."""

    summary = "Invalid JSON content"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, exception_type=JSON_READER_EXCEPTION)


def query_value(request: web.Request, name: str) -> str | None:
    """The first value of query parameter ``name``, matched case-insensitively as the extension does."""
    return next((v for k, v in request.query.items() if k.lower() == name.lower()), None)


def query_flag(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter: ``true`` in any case is true, any other value false, absent ``default``."""
    value = query_value(request, name)
    return default if value is None else value.strip().lower() == "true"


def query_page_size(request: web.Request, default: int) -> int:
    """``top``: a positive whole number, else ``default`` (the extension's ``int.TryParse`` ignores the rest)."""
    value = (query_value(request, "top") or "").strip()
    if not value.isascii() or not value.isdigit():
        return default
    number = int(value)
    return number if 0 < number <= _INT32_MAX else default


def parse_time(value: str) -> datetime:
    """A query's date-time as an aware UTC datetime: .NET round-trip text or any ISO 8601 date or date-time.

    Raises ``ValueError`` for text that is neither, and for times outside the years 1 to 9999 once in UTC.
    """
    try:
        return parse_datetime(value)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC") from exc
    except ValueError:
        pass
    text = value.strip()
    try:
        return to_utc(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text))
    except OverflowError as exc:
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC") from exc


def query_time(request: web.Request, name: str) -> datetime | None:
    """Date-time query parameter ``name`` (``createdTimeFrom``, ``lastOperationTimeTo``…); 400 when unreadable."""
    value = query_value(request, name)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ClientError(
            f"{name} is not a date and time: {value!r}. Use ISO 8601, such as 2024-05-01T10:00:00Z."
        ) from exc


def query_seconds(request: web.Request, name: str) -> float | None:
    """A duration in seconds (``timeout``, ``pollingInterval``): finite and not negative; 400 otherwise."""
    value = query_value(request, name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ClientError(f"{name} must be a number of seconds, zero or more: {value!r}.")
    return seconds


async def read_body(request: web.Request) -> bytes:
    """The whole request body; 413 when it is over the host's limit (told by Content-Length or by reading)."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        raise ClientError(TOO_LARGE_MESSAGE, status=413)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ClientError(TOO_LARGE_MESSAGE, status=413) from exc


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth) for child in item if isinstance(child, (dict, list)))
    return deepest


def json_text(body: bytes) -> str:
    """A JSON body re-serialized compactly (the extension parses it once): what dfx stores and sends on.

    Raises :class:`BadJson` for text that is not JSON or not UTF-8, for arrays and objects nested deeper than
    Newtonsoft reads (``MaxDepth`` 64), and for a string with an unpaired UTF-16 surrogate escape such as
    ``"\\ud800"``: it has no UTF-8 form, so storage could never hold it.
    """
    too_deep = f"The reader's MaxDepth of {MAX_JSON_DEPTH} has been exceeded: arrays and objects nest deeper."
    try:
        value = json.loads(body)
    except RecursionError:
        raise BadJson(too_deep) from None
    except json.JSONDecodeError as exc:
        raise BadJson(f"Not valid JSON: {exc}.") from None
    except UnicodeDecodeError as exc:
        raise BadJson(f"The body is not UTF-8 text: {exc}.") from None
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise BadJson(too_deep)
    text = compact_json(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        escape = f"\\u{ord(exc.object[exc.start]):04x}"
        raise BadJson(
            f"A string holds an unpaired surrogate ({escape}): text without a UTF-8 form cannot be stored."
        ) from None
    return text
