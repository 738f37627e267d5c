"""The durable HTTP management API and the SDK's RPC routes (host-protocol §5), over ``DurableClient``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from dfx.emulator.durable.client import ClientError, DurableClient, status_json
from dfx.emulator.durable.entities import DELETE_OPERATION, EntityId, SchedulerState
from dfx.emulator.durable.orchestration import parse_output
from dfx.emulator.health import StorageHealth, is_storage_failure
from dfx.emulator.http.inputs import (
    BadJson,
    InvalidJsonContent,
    json_text,
    query_flag,
    query_page_size,
    query_seconds,
    query_time,
    query_value,
    read_body,
)
from dfx.emulator.storage.instances_table import InstanceQuery
from dfx.emulator.worker.functions import ENTITY_TRIGGER, ORCHESTRATION_TRIGGER, FunctionIndex
from dfx.errors import DfxError
from dfx.model.encoding import compact_json, format_datetime
from dfx.model.history import OrchestrationStatus

log = logging.getLogger(__name__)
RUNNING_STATES = frozenset(
    {
        OrchestrationStatus.Running,
        OrchestrationStatus.Pending,
        OrchestrationStatus.ContinuedAsNew,
        OrchestrationStatus.Suspended,
    }
)
WAIT_DONE = frozenset(
    {
        OrchestrationStatus.Completed,
        OrchestrationStatus.Canceled,
        OrchestrationStatus.Failed,
        OrchestrationStatus.Terminated,
    }
)
CONTINUATION_HEADER = "x-ms-continuation-token"
DEFAULT_PAGE = 100


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(data, separators=(",", ":"), ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(error: ClientError) -> web.Response:
    """The extension's error body: ``Message`` plus the exception fields when there is an exception."""
    if error.status == 404 or error.status == 410:
        return web.Response(status=error.status)
    if error.exception_type is None:
        return json_response({"Message": error.message}, error.status)
    generic = "One or more of the arguments submitted is incorrect" if error.status == 400 else (
        "Something went wrong while processing your request"
    )  # fmt: skip
    return json_response(
        {
            "Message": getattr(error, "summary", None) or generic,
            "ExceptionMessage": error.message,
            "ExceptionType": error.exception_type,
            "StackTrace": None,
        },
        error.status,
    )


async def _entity_input(request: web.Request) -> str | None:
    """A signal's input: compact JSON of a JSON body, a JSON string of any other body, None without one."""
    body = await read_body(request)
    if not body:
        return None
    if request.content_type == "application/json":
        try:
            return json_text(body)
        except BadJson as exc:
            raise ClientError(f"Could not parse JSON content: {exc}") from exc
    return compact_json(body.decode("utf-8", "replace"))


async def _json_body(request: web.Request) -> str | None:
    """The body re-serialized compactly (the extension parses it once), None when empty; 400 when invalid."""
    body = await read_body(request)
    if not body:
        return None
    try:
        return json_text(body)
    except BadJson as exc:
        raise InvalidJsonContent(str(exc)) from exc


class ManagementApi:
    """Serves ``/runtime/webhooks/durabletask/…`` and the RPC base ``/durabletask/…`` with one handler."""

    def __init__(
        self,
        client: DurableClient,
        index: FunctionIndex,
        hub_name: str,
        *,
        system_key: str | None,
        health: StorageHealth | None = None,
    ) -> None:
        self.client = client
        self.index = index
        self.hub_name = hub_name
        self.system_key = system_key
        self.health = health or StorageHealth()

    def _storage_failed(self, exc: BaseException, doing: str) -> web.Response:
        """A 503 that says why: storage did not answer (or refused), and what to check."""
        self.health.failed(exc, doing)
        message = exc.message if isinstance(exc, DfxError) else f"Storage failed: {exc}"
        hint = exc.hint if isinstance(exc, DfxError) else None
        body = {
            "Message": message,
            "ExceptionMessage": f"{type(exc).__name__}: {message}",
            "ExceptionType": type(exc).__name__,
        }
        if hint:
            body["Hint"] = hint
        return json_response(body, 503)

    # -- URLs ---------------------------------------------------------------------------------------

    def _links(self, request: web.Request, instance_id: str) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}/runtime/webhooks/durabletask/instances/{quote(instance_id, safe='')}"
        common = f"taskHub={quote(self.hub_name, safe='')}&connection=Storage"
        if self.system_key:
            common += f"&code={self.system_key}"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{common}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{common}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{common}",
            "purgeHistoryDeleteUri": f"{base}?{common}",
            "restartPostUri": f"{base}/restart?{common}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{common}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{common}",
        }

    def _check_status(self, request: web.Request, instance_id: str) -> web.Response:
        links = self._links(request, instance_id)
        return json_response(links, 202, {"Location": links["statusQueryGetUri"], "Retry-After": "10"})

    # -- dispatch -----------------------------------------------------------------------------------

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        """Answer ``path`` (the part after the API base, no leading slash)."""
        parts = path.split("/")
        method = request.method.upper()
        try:
            hub = query_value(request, "taskHub")
            if hub and hub.lower() != self.hub_name.lower():
                raise ClientError(
                    f"This dfx host serves task hub '{self.hub_name}', not '{hub}'. Start another host with "
                    f"--task-hub {hub} to reach that hub."
                )
            if parts[0] == "orchestrators" and len(parts) in (2, 3) and parts[1]:
                if method != "POST":
                    return web.Response(status=404)
                return await self.start(request, parts[1], parts[2] if len(parts) == 3 and parts[2] else None)
            if parts[0] == "instances":
                return await self._instances(request, method, parts[1:])
            if parts[0] == "entities":
                return await self._entities(request, method, [p for p in parts[1:] if p] if len(parts) > 1 else [])
        except ClientError as exc:
            return error_response(exc)
        except Exception as exc:  # the extension's generic handler: 500 with the exception (host-protocol §5)
            if is_storage_failure(exc):
                return self._storage_failed(exc, f"The durable API {method} {path}")
            log.exception("durable API %s %s failed", method, path)
            return json_response(
                {
                    "Message": "Something went wrong while processing your request",
                    "ExceptionMessage": f"{type(exc).__name__}: {exc}",
                    "ExceptionType": type(exc).__name__,
                    "StackTrace": None,
                },
                500,
            )
        return web.Response(status=404)

    async def _instances(self, request: web.Request, method: str, rest: list[str]) -> web.StreamResponse:
        if not rest or rest == [""]:
            if method == "GET":
                return await self.list(request)
            if method == "DELETE":
                return await self.purge_by(request)
            return web.Response(status=404)
        instance_id = rest[0]
        if len(rest) == 1:
            if method == "GET":
                return await self.status(request, instance_id)
            if method == "DELETE":
                deleted = await self.client.hub.purge_instance(instance_id)
                return json_response({"instancesDeleted": 1}) if deleted else web.Response(status=404)
            return web.Response(status=404)
        if method != "POST":
            return web.Response(status=404)
        action = rest[1]
        reason = query_value(request, "reason")
        if action == "raiseEvent" and len(rest) == 3:
            return await self.raise_event(request, instance_id, rest[2])
        operations: dict[str, Callable[[str, str | None], Awaitable[None]]] = {
            "terminate": self.client.terminate,
            "suspend": self.client.suspend,
            "resume": self.client.resume,
        }
        if action in operations and len(rest) == 2:
            await operations[action](instance_id, reason)
            return web.Response(status=202)
        if action == "restart" and len(rest) == 2:
            new_id = query_flag(request, "restartWithNewInstanceId", True)
            wait = self._wait_times(request)
            started = await self.client.restart(instance_id, new_id)
            return await self._maybe_wait(request, started, wait)
        if action == "rewind" and len(rest) == 2:
            await self.client.rewind(instance_id, reason)
            return web.Response(status=202)
        return web.Response(status=404)

    # -- entities -----------------------------------------------------------------------------------

    async def _entities(self, request: web.Request, method: str, rest: list[str]) -> web.StreamResponse:
        if len(rest) <= 1 and method == "GET":
            return await self.list_entities(request, rest[0] if rest else None)
        if len(rest) != 2:
            return web.Response(status=404)
        entity = EntityId(rest[0], "" if rest[1] == "$" else rest[1])
        if method == "GET":
            exists, state = await self.client.entity_state(entity)
            return json_response(state) if exists else web.Response(status=404)
        if method not in ("POST", "DELETE"):
            return web.Response(status=404)
        if self.index.durable(ENTITY_TRIGGER, entity.name) is None:
            raise ClientError(self.index.missing_message(ENTITY_TRIGGER, entity.name))
        operation = DELETE_OPERATION if method == "DELETE" else (query_value(request, "op") or "")
        await self.client.signal_entity(entity, operation, await _entity_input(request))
        return web.Response(status=202)

    async def list_entities(self, request: web.Request, name: str | None) -> web.Response:
        prefix = f"@{name.lower()}@" if name else None
        since, until = query_time(request, "lastOperationTimeFrom"), query_time(request, "lastOperationTimeTo")
        query = InstanceQuery(
            only_entities=prefix is None, instance_id_prefix=prefix, page_size=query_page_size(request, DEFAULT_PAGE)
        )
        page = await self.client.hub.instances.query(query, request.headers.get(CONTINUATION_HEADER) or None)
        fetch_state = query_flag(request, "fetchState", False)
        body = []
        for record in page.instances:
            if record.last_updated_time is not None and (
                (since and record.last_updated_time < since) or (until and record.last_updated_time > until)
            ):
                continue
            entity = EntityId.parse(record.instance_id)
            scheduler = SchedulerState.from_json(record.input)
            if not scheduler.exists:
                continue
            item: dict[str, Any] = {
                "entityId": {"name": entity.name, "key": entity.key},
                "lastOperationTime": format_datetime(record.last_updated_time) if record.last_updated_time else None,
            }
            if fetch_state:
                item["state"] = parse_output(scheduler.state)
            body.append(item)
        return json_response(body, headers={CONTINUATION_HEADER: page.continuation_token or ""})

    # -- routes -------------------------------------------------------------------------------------

    async def start(self, request: web.Request, name: str, instance_id: str | None) -> web.Response:
        input_text = await _json_body(request)
        wait = self._wait_times(request)
        function = self.index.durable(ORCHESTRATION_TRIGGER, name)
        if function is None:
            message = self.index.missing_message(ORCHESTRATION_TRIGGER, name)
            raise ClientError(message, exception_type="System.ArgumentException")
        version = query_value(request, "version")
        started = await self.client.start(function.durable_name, instance_id, input_text, version=version)
        return await self._maybe_wait(request, started, wait)

    @staticmethod
    def _wait_times(request: web.Request) -> tuple[float, float] | None:
        """``timeout`` and ``pollingInterval`` in seconds when both are given (read before anything is started)."""
        timeout_s, interval_s = query_seconds(request, "timeout"), query_seconds(request, "pollingInterval")
        if timeout_s is None or interval_s is None:
            return None
        if interval_s > timeout_s:
            raise ClientError("Total timeout must be greater than the polling interval.")
        return timeout_s, interval_s

    async def _maybe_wait(
        self, request: web.Request, instance_id: str, wait: tuple[float, float] | None
    ) -> web.Response:
        if wait is None:
            return self._check_status(request, instance_id)
        timeout_s, interval_s = wait
        deadline = time.monotonic() + timeout_s
        while True:
            record = await self.client.hub.instances.get(instance_id)
            if record is not None and record.runtime_status in WAIT_DONE:
                if record.runtime_status == OrchestrationStatus.Completed:
                    data = status_json(record)
                    return json_response(data["output"])
                return json_response(status_json(record))
            if time.monotonic() + interval_s > deadline:
                return self._check_status(request, instance_id)
            await asyncio.sleep(interval_s)

    async def status(self, request: web.Request, instance_id: str) -> web.Response:
        data = await self.client.status(
            instance_id,
            show_input=query_flag(request, "showInput", True),
            show_history=query_flag(request, "showHistory", False),
            show_history_output=query_flag(request, "showHistoryOutput", False),
        )
        if data is None:
            return web.Response(status=404)
        status = OrchestrationStatus[data["runtimeStatus"]]
        if status in RUNNING_STATES:
            return json_response(data, 202, {"Location": str(request.url), "Retry-After": "5"})
        if status == OrchestrationStatus.Failed and query_flag(request, "returnInternalServerErrorOnFailure", False):
            return json_response(data, 500)
        return json_response(data)

    def _list_query(self, request: web.Request) -> InstanceQuery:
        statuses = frozenset(
            OrchestrationStatus[s.strip()]
            for s in (query_value(request, "runtimeStatus") or "").split(",")
            if s.strip() in OrchestrationStatus.__members__
        )
        return InstanceQuery(
            statuses=statuses,
            created_from=query_time(request, "createdTimeFrom"),
            created_to=query_time(request, "createdTimeTo"),
            instance_id_prefix=query_value(request, "instanceIdPrefix") or None,
            page_size=query_page_size(request, DEFAULT_PAGE),
        )

    async def list(self, request: web.Request) -> web.Response:
        query = self._list_query(request)
        page = await self.client.hub.instances.query(query, request.headers.get(CONTINUATION_HEADER) or None)
        show_input = query_flag(request, "showInput", True)
        body = [status_json(record, show_input=show_input) for record in page.instances]
        return json_response(body, headers={CONTINUATION_HEADER: page.continuation_token or ""})

    async def purge_by(self, request: web.Request) -> web.Response:
        query = self._list_query(request)
        if query.created_from is None:
            return json_response("Please provide value for 'createdTimeFrom' parameter.", 400)
        result = await self.client.hub.purge_instances(
            created_from=query.created_from, created_to=query.created_to, statuses=query.statuses or None
        )
        if not result.instances_deleted:
            return web.Response(status=404)
        return json_response({"instancesDeleted": result.instances_deleted})

    async def raise_event(self, request: web.Request, instance_id: str, event_name: str) -> web.Response:
        await self.client.require(instance_id)
        if request.content_type != "application/json":
            raise ClientError("Only application/json request content is supported")
        payload = await _json_body(request)
        if payload is None:
            raise InvalidJsonContent("The request body is empty: an event's data must be JSON (null for none).")
        await self.client.raise_event(instance_id, event_name, payload)
        return web.Response(status=202)
