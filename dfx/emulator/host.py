"""One host process: storage ready, the app indexed, HTTP served — the lifecycle behind ``dfx start``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from dfx.emulator import azurite
from dfx.emulator.config import STORAGE_SETTING, Settings
from dfx.emulator.durable.client_binding import RPC_PATH, WAKE_PATH, WEBHOOK_PATH, client_binding_json
from dfx.emulator.http.drain import Drain
from dfx.emulator.http.functions import FunctionRoutes, build_routes, supplied_key
from dfx.emulator.http.keys import HostKeys, load_or_create_keys
from dfx.emulator.http.server import HostState, create_app
from dfx.emulator.logs import HostConsole, install_logging
from dfx.emulator.outputs import SUPPORTED as SUPPORTED_OUTPUTS
from dfx.emulator.outputs import OutputWriter
from dfx.emulator.parent import watch_parent
from dfx.emulator.ports import listen_socket
from dfx.emulator.storage.errors import StorageError, StorageRefusedError
from dfx.emulator.worker.errors import AppLoadError
from dfx.emulator.worker.functions import (
    DURABLE_CLIENT,
    DURABLE_TRIGGERS,
    HTTP_TRIGGER,
    QUEUE_TRIGGER,
    TIMER_TRIGGER,
    FunctionIndex,
    IndexedFunction,
)
from dfx.emulator.worker.invoker import Invoker
from dfx.emulator.worker.loader import load_functions
from dfx.errors import DfxError
from dfx.routes import RouteTemplateError, join_route

AZURITE_LOG = "azurite.log"
ADMIN_FUNCTIONS = "/admin/functions/"
"""Core Tools' route that runs a non-HTTP function once: ``POST /admin/functions/{name}`` with ``{"input": ...}``."""
ADMIN_REASON = "This function was programmatically called via the host APIs."
HUB_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds between attempts to prepare the task hub while storage fails (the last one repeats)."""
FIRST_ATTEMPT_WAIT = 30.0
"""Seconds a durable request waits for the first attempt to prepare the task hub before it gets a 503."""
SHUTDOWN_TIMEOUT = 2.0
"""Seconds aiohttp waits for a response being written when the host stops (requests got theirs in ``Drain``)."""
log = logging.getLogger(__name__)


def process_age_ms() -> float:
    """Milliseconds since this process started (from /proc where there is one)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, (uptime - start_ticks / ticks) * 1000)
    except (OSError, ValueError, IndexError):
        return (time.perf_counter() - _IMPORTED_AT) * 1000


_IMPORTED_AT = time.perf_counter()


def apply_environment(settings: Settings) -> None:
    """Put local.settings.json ``Values`` into the environment (unset names only), as Core Tools does."""
    for name, value in settings.environment_updates.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")


def unsupported_bindings(function: IndexedFunction) -> list[str]:
    """What dfx does not run yet for ``function`` (its trigger or bindings), to say so at start."""
    notes = []
    if function.trigger_type not in (HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER, *DURABLE_TRIGGERS):
        notes.append(f"{function.trigger_type} functions are indexed but not triggered by dfx yet.")
    for binding in function.bindings:
        if binding is function.trigger or binding.name == "$return":
            continue
        if binding.is_out and binding.type not in SUPPORTED_OUTPUTS:
            notes.append(f"output binding {binding.name!r} ({binding.type}) is not written by dfx yet.")
        elif not binding.is_out and binding.type != DURABLE_CLIENT:
            notes.append(f"input binding {binding.name!r} ({binding.type}) receives None under dfx.")
    return notes


def _load_durable_modules() -> Any:
    """The storage SDKs and the engine, imported off the event loop (they take a few hundred ms)."""
    from types import SimpleNamespace

    from dfx.emulator.durable.client import DurableClient
    from dfx.emulator.durable.engine import Engine
    from dfx.emulator.http.management import ManagementApi
    from dfx.emulator.storage.taskhub import TaskHub

    return SimpleNamespace(TaskHub=TaskHub, Engine=Engine, DurableClient=DurableClient, ManagementApi=ManagementApi)


def _load_trigger_modules() -> None:
    """The storage SDKs and the trigger listeners, imported off the event loop."""
    import dfx.emulator.storage.app_queues
    import dfx.emulator.storage.webjobs
    import dfx.emulator.triggers.queue
    import dfx.emulator.triggers.timer  # noqa: F401


class Host:
    """The Functions host, the durable extension's HTTP surface and the worker, in one asyncio process."""

    def __init__(self, settings: Settings, console: HostConsole, *, waited_ms: float = 0.0) -> None:
        self.settings = settings
        self.waited_ms = waited_ms
        """Time this process spent starting Azurite, left out of the reported start time."""
        self.console = console
        self.state = HostState()
        self.keys: HostKeys | None = load_or_create_keys(settings.state_dir) if settings.enforce_keys else None
        self.invoker = Invoker(settings.thread_count, str(settings.app_dir))
        self.index = FunctionIndex()
        self.outputs = OutputWriter(settings.values)
        self.hub_ready: asyncio.Task[None] | None = None
        """Preparation of the task hub, started once HTTP is served (``prepare_task_hub``)."""
        self.hub_attempted = asyncio.Event()
        """Set once the task hub is ready or its first attempt failed: durable requests wait for this."""
        self.hub_problem: str | None = None
        """Why the task hub is not ready (the body of durable requests' 503s), while it is not."""
        self.triggers_stopping = asyncio.Event()
        self.triggers: list[asyncio.Task[None]] = []
        """The listeners of timer functions (``dfx.emulator.triggers``), supervised by ``keep_running``."""
        self._trigger_clients: Any = None
        self._admin_calls: set[asyncio.Task[bool]] = set()
        self._queue_listeners: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self.fatal: DfxError | None = None
        """What stopped the host (storage refused the credentials): raised when the host has stopped."""
        self.hub: Any = None
        self.engine: Any = None
        self.management: Any = None
        self.state.extra[f"/{WEBHOOK_PATH}/"] = self.durable_api
        self.state.extra[f"/{RPC_PATH}/"] = self.durable_api
        self.state.extra[f"/{WAKE_PATH}"] = self.wake
        self.state.extra[ADMIN_FUNCTIONS] = self.admin_invoke
        self.runner: Any = None
        """Runs trigger-fired functions (``dfx.emulator.triggers.runner``), made with the first one."""

    def client_binding(self, request: web.Request | None, function: IndexedFunction) -> str:
        """The ``durableClient`` string for an invocation (of an HTTP ``request``, or of another trigger)."""
        binding = function.durable_client
        hub = str(binding.settings.get("taskHub") or self.settings.hub_name) if binding else self.settings.hub_name
        connection = (
            str(binding.settings.get("connectionName")) if binding and binding.settings.get("connectionName") else None
        )
        port = self.settings.port
        return client_binding_json(
            f"http://localhost:{port}",
            hub,
            rpc_base_url=f"http://127.0.0.1:{port}/{RPC_PATH}/",
            connection_name=connection,
            system_key=self.keys.durable_system if self.keys else None,
        )

    def load(self) -> None:
        """Import and index the app; on failure keep serving with the error (``--watch`` retries on change)."""
        index = load_functions(self.settings.app_dir, self.settings.script_file, self.settings.functions)
        try:
            routes = build_routes(index, self.settings.route_prefix)
        except RouteTemplateError as exc:
            raise AppLoadError(str(exc)) from exc
        self.index = index
        for route in routes:
            log.debug("route %s %s -> %s", ",".join(route.function.methods), route.path, route.function.name)
        self.state.functions = FunctionRoutes(
            routes, self.invoker, self.console, keys=self.keys, outputs=self.outputs, client_binding=self.client_binding
        )

    async def prepare_task_hub(self, stop: asyncio.Event) -> None:
        """Create the task hub (idempotent) and start the engine; the Azure SDKs load in a thread meanwhile.

        Storage that fails is tried again with back-off (said once, with the cause and a hint; every durable
        request gets a 503 that says why meanwhile). Refused credentials stop the host: no retry can fix them.
        """
        modules = await asyncio.to_thread(_load_durable_modules)
        started = time.perf_counter()
        name = self.settings.hub_name
        attempt = 0
        while True:
            hub = modules.TaskHub(self.settings.storage, name, self.settings.partition_count)
            try:
                await hub.create()
                break
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await hub.close()
                if isinstance(exc, StorageRefusedError):
                    self.hub_problem, self.fatal = f"Task hub {name} is not ready: {exc.message}", exc
                    self.hub_attempted.set()
                    stop.set()
                    return
                delay = HUB_RETRY_DELAYS[min(attempt, len(HUB_RETRY_DELAYS) - 1)]
                self._hub_failed(exc, first=attempt == 0, delay=delay)
                attempt += 1
                self.hub_attempted.set()
                await asyncio.sleep(delay)
        took = time.perf_counter() - started
        timing = f"after {took:.0f} s" if attempt else f"({took * 1000:.0f} ms)"
        self.console.line(f"Task hub {name} ready on {self.settings.storage.describe()} {timing}", "dim")
        self.hub = hub
        if self.state.load_error is None:
            self.engine = modules.Engine(self.settings, hub, self.index, self.invoker, self.console)
            client = modules.DurableClient(
                hub,
                dispatcher=self.engine,
                default_version=self.settings.durable.default_version,
                overwrite_running=self.settings.durable.overridable_existing_instance_states == "AnyState",
            )
            system_key = self.keys.durable_system if self.keys else None
            self.management = modules.ManagementApi(
                client, self.index, hub.name, system_key=system_key, health=self.engine.health
            )
            await self.engine.start()
        self.hub_problem = None
        self.hub_attempted.set()

    def _hub_failed(self, exc: BaseException, *, first: bool, delay: float) -> None:
        """Say once why the task hub is not ready (storage trouble with its hint, anything else as a bug)."""
        if isinstance(exc, StorageError):
            reason = f"Task hub {self.settings.hub_name} is not ready: {exc.message}"
            self.hub_problem = f"{reason} {exc.hint}" if exc.hint else reason
        else:
            reason = f"Task hub {self.settings.hub_name} is not ready: {type(exc).__name__}: {exc}"
            self.hub_problem = reason
        if not first:
            log.debug("%s (tried again)", reason)
            return
        self.console.error(reason)
        if isinstance(exc, StorageError):
            if exc.hint:
                self.console.line(exc.hint, "yellow")
        else:
            log.error("preparing the task hub failed", exc_info=exc)
        self.console.line(
            f"dfx tries again (first in {delay:g} s); durable requests get a 503 with this reason meanwhile.",
            "yellow",
        )

    def _hub_task_done(self, task: asyncio.Task[None]) -> None:
        """Say what ended the task hub's preparation when it was not its own success or a stop."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        self.hub_problem = f"The task hub could not be prepared: {type(exc).__name__}: {exc}"
        self.hub_attempted.set()
        self.console.error(self.hub_problem)
        log.error("preparing the task hub failed", exc_info=exc)

    async def durable_api(self, request: web.Request) -> web.StreamResponse:
        """The management API and RPC routes, once the task hub is ready (requests wait for it)."""
        if not self.hub_attempted.is_set():
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self.hub_attempted.wait(), FIRST_ATTEMPT_WAIT)
        if self.management is None:
            if self.state.load_error is not None:
                problem = f"The app did not load: {self.state.load_error}"
            else:
                problem = self.hub_problem or "The task hub is still being prepared; try again in a moment."
            return web.json_response({"Message": "The task hub is not available.", "Error": problem}, status=503)
        webhook = request.path.startswith(f"/{WEBHOOK_PATH}/")
        if webhook and self.keys is not None and not self.keys.allows_system(supplied_key(request)):
            return web.Response(status=401)
        if not webhook and request.remote not in ("127.0.0.1", "::1", None):
            return web.Response(status=403)
        base = f"/{WEBHOOK_PATH}/" if webhook else f"/{RPC_PATH}/"
        return await self.management.handle(request, request.path[len(base) :])

    async def wake(self, request: web.Request) -> web.StreamResponse:
        """A local client (``dfx durable ...``) put a message on a queue: poll it now, not after the back-off."""
        if request.remote not in ("127.0.0.1", "::1", None):
            return web.Response(status=403)
        queue = request.query.get("queue", "")
        if request.path != f"/{WAKE_PATH}" or request.method != "POST" or self.engine is None:
            return web.Response(status=404)
        if queue not in self.engine.owned:
            return web.Response(status=404)
        self.engine.wake(queue)
        return web.Response(status=202)

    async def start_triggers(self) -> None:
        """Start a listener per timer and queue function; one that cannot run (a bad schedule, queue name or
        connection) is in error, and the others run."""
        timers = [f for f in self.index.functions if f.trigger_type == TIMER_TRIGGER]
        queued = [f for f in self.index.functions if f.trigger_type == QUEUE_TRIGGER]
        if not timers and not queued:
            return
        await asyncio.to_thread(_load_trigger_modules)  # the storage SDKs load off the loop (HTTP is served)
        from dfx.emulator.storage.app_queues import AppQueues
        from dfx.emulator.storage.clients import StorageClients
        from dfx.emulator.storage.webjobs import HostBlobs, host_id
        from dfx.emulator.triggers.queue import QueueListener, queue_source
        from dfx.emulator.triggers.schedules import ScheduleError, parse_schedule, time_zone
        from dfx.emulator.triggers.timer import TimerListener

        values = self.settings.values
        self._trigger_clients = StorageClients(self.settings.storage)
        runner = self.function_runner()
        if timers:
            blobs = HostBlobs(self._trigger_clients, host_id(self.settings.app_dir))
        for function in timers:
            settings = function.trigger.settings
            try:
                schedule = parse_schedule(str(settings.get("schedule") or ""), values, time_zone(values))
            except ScheduleError as exc:
                self._function_in_error(function, exc)
                continue
            listener = TimerListener(
                function=function,
                schedule=schedule,
                run_on_startup=bool(settings.get("runOnStartup")),
                use_monitor=settings.get("useMonitor") is not False,
                blobs=blobs,
                fire=runner.fire,
                stopping=self.triggers_stopping,
            )
            self._supervise(listener.run, f"The timer listener of {function.name}")
        for function in queued:
            try:
                setting, queue = queue_source(function, values)
                clients = self._trigger_clients if setting == STORAGE_SETTING else self.outputs.clients_for(setting)
            except DfxError as exc:
                self._function_in_error(function, exc)
                continue
            queue_listener = QueueListener(function, queue, AppQueues(clients), self.settings.queues, runner.fire,
                                           self.triggers_stopping)  # fmt: skip
            self._queue_listeners[setting, queue].append(queue_listener)
            self._supervise(queue_listener.run, f"The queue listener of {function.name}")
        self.outputs.sent = self._queue_sent

    def _supervise(self, body: Callable[[], Awaitable[None]], name: str) -> None:
        from dfx.emulator.loops import keep_running

        task = keep_running(body, name, self.triggers_stopping, self._trigger_failed)
        self.triggers.append(asyncio.create_task(task, name=f"dfx-{name}"))

    def _function_in_error(self, function: IndexedFunction, exc: DfxError) -> None:
        """Say why a function cannot run, as the host says it; the other functions run."""
        self.console.error(f"The '{function.name}' function is in error: {exc.message}")
        if exc.hint:
            self.console.line(exc.hint, "yellow")

    def _queue_sent(self, setting: str, queue: str) -> None:
        for listener in self._queue_listeners.get((setting, queue), ()):
            listener.wake()

    def function_runner(self) -> Any:
        if self.runner is None:
            from dfx.emulator.triggers.runner import FunctionRunner

            self.runner = FunctionRunner(
                self.invoker, self.console, self.outputs, lambda f: self.client_binding(None, f)
            )
        return self.runner

    async def admin_invoke(self, request: web.Request) -> web.StreamResponse:
        """Run a timer or queue function once, as Core Tools' admin API does: 202, 404 for an unknown name."""
        if request.method != "POST":
            return web.Response(status=405)
        if self.keys is not None and not self.keys.allows("ADMIN", supplied_key(request)):
            return web.Response(status=401)  # locally open, as in Core Tools, unless --enforce-keys
        name = request.path[len(ADMIN_FUNCTIONS) :].strip("/")
        function = next((f for f in self.index.functions if f.name.lower() == name.lower()), None)
        if function is None:
            return web.json_response({"Message": f"No function named '{name}'."}, status=404)
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"Message": 'The body must be a JSON object: {"input": "..."}.'}, status=400)
        text = body.get("input")
        text = "" if text is None else text if isinstance(text, str) else json.dumps(text)
        if function.trigger_type == TIMER_TRIGGER:
            from dfx.emulator.triggers.timer import timer_json

            call = self.function_runner().fire(function, timer_json(None, False), ADMIN_REASON)
        elif function.trigger_type == QUEUE_TRIGGER:
            metadata = {"DequeueCount": 0, "InsertionTime": datetime.now(timezone.utc).isoformat()}
            call = self.function_runner().fire(function, text, ADMIN_REASON, data_type="string", metadata=metadata)
        else:
            return web.json_response(
                {"Message": f"'{function.name}' is a {function.trigger_type} function: the admin API runs timer "
                            "and queue functions; call HTTP functions on their route, durable ones through a client."},
                status=400,
            )  # fmt: skip
        task = asyncio.create_task(call, name=f"dfx-admin-{function.name}")
        self._admin_calls.add(task)
        task.add_done_callback(self._admin_calls.discard)
        return web.Response(status=202)

    def _trigger_failed(self, exc: BaseException, doing: str) -> None:
        """Say why a trigger listener stopped (it is restarted): storage trouble in one line, a bug with its trace."""
        if isinstance(exc, StorageError):
            self.console.warning(f"{doing}: {exc.message}")
        else:
            self.console.error(f"{doing}: {type(exc).__name__}: {exc}")
            log.error("%s", doing, exc_info=exc)

    async def stop_triggers(self) -> None:
        self.triggers_stopping.set()
        if self.triggers:
            await asyncio.wait(self.triggers, timeout=5)
        for task in self.triggers:
            task.cancel()
        if self._trigger_clients is not None:
            await self._trigger_clients.close()

    def print_functions(self) -> None:
        """The function table, as ``func start`` prints it."""
        if not self.index.functions:
            self.console.plain("No job functions found.", "yellow")
            return
        self.console.plain("\nFunctions:\n")
        for function in self.index.functions:
            if function.is_http:
                methods = ",".join(function.methods)
                url = f"http://localhost:{self.settings.port}/{join_route(self.settings.route_prefix, function.route)}"
                self.console.plain(f"\t{function.name}: [{methods}] {url}", "green")
            elif function.trigger_type == TIMER_TRIGGER:
                schedule = function.trigger.settings.get("schedule")
                self.console.plain(f"\t{function.name}: {function.trigger_type} ({schedule})", "green")
            elif function.trigger_type == QUEUE_TRIGGER:
                queue = function.trigger.settings.get("queueName")
                self.console.plain(f"\t{function.name}: {function.trigger_type} ({queue})", "green")
            else:
                self.console.plain(f"\t{function.name}: {function.trigger_type}", "green")
            for note in unsupported_bindings(function):
                self.console.plain(f"\t  {note}", "yellow")
            self.console.plain()
        if self.keys is not None:
            self.console.plain(
                f"Keys are enforced (--enforce-keys); stored in {self.settings.state_dir / 'keys.json'}:"
            )
            self.console.plain(f"\tfunction key (code=): {self.keys.function}")
            self.console.plain(f"\tmaster key: {self.keys.master}\n")

    async def serve(
        self, sock: socket.socket, *, stop: asyncio.Event | None = None, supervisor_pid: int | None = None
    ) -> None:
        """Run on the listening ``sock`` until ``stop`` is set (or SIGINT/SIGTERM): storage, app, HTTP; then close.

        A host under ``--watch`` also stops when its supervisor ``supervisor_pid`` is no longer its parent.
        """
        stop = stop or asyncio.Event()
        log.debug(
            "app %s, script %s, hub %s (%d partitions), route prefix %r, %d worker threads",
            self.settings.app_dir,
            self.settings.script_file,
            self.settings.hub_name,
            self.settings.partition_count,
            self.settings.route_prefix,
            self.settings.thread_count,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        watchdog: asyncio.Task[None] | None = None
        if supervisor_pid is not None:

            def supervisor_gone() -> None:
                self.console.line("The supervisor exited; stopping the host.", "yellow")
                stop.set()

            watchdog = asyncio.create_task(watch_parent(supervisor_pid, supervisor_gone))
        try:
            await asyncio.to_thread(self.load)
        except AppLoadError as exc:
            if not self.settings.watch:
                raise
            self.state.load_error = exc.message
            self.console.error(exc.message)
            if exc.details:
                self.console.plain(exc.details, "red")
            self.console.line("Waiting for a change to the app to try again…", "yellow")
        drain = Drain()
        runner = web.AppRunner(
            create_app(
                self.state, cors=self.settings.cors, cors_credentials=self.settings.cors_credentials, drain=drain
            ),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        drain.attach(runner)
        await web.SockSite(runner, sock).start()
        if self.state.load_error is None:
            self.print_functions()
        self.console.line(f"Host started ({process_age_ms() - self.waited_ms:.0f} ms)", "bold")
        if self.state.load_error is None:
            await self.start_triggers()
        self.hub_ready = asyncio.create_task(self.prepare_task_hub(stop))
        self.hub_ready.add_done_callback(self._hub_task_done)
        try:
            await stop.wait()
        finally:
            self.console.line("Stopping host…", "dim")
            if watchdog is not None:
                watchdog.cancel()
            if self.hub_ready is not None and not self.hub_ready.done():
                self.hub_ready.cancel()
            # Every request accepted is answered before the port is left to the next host (or closed).
            await drain.stop(
                runner,
                sock,
                "The host is restarting for a change to the app" if self.settings.watch else "The host is stopping",
            )
            await self.stop_triggers()
            if self.engine is not None:
                await self.engine.stop()
            if self.hub is not None:
                await self.hub.close()
            await self.outputs.close()
            await _close_sdk_session()
            self.invoker.close()
        if self.fatal is not None:
            raise self.fatal


async def _close_sdk_session() -> None:
    """Close the HTTP session that the durable SDK's client shares between calls (it never closes it itself).

    Left open, aiohttp reports an unclosed session and connector while the interpreter shuts down.
    """
    http_utils = sys.modules.get("azure.durable_functions.models.utils.http_utils")
    close = getattr(http_utils, "_close_session", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


def run_host(
    settings: Settings, *, fd: int | None = None, console: HostConsole, supervisor_pid: int | None = None
) -> None:
    """Serve one host in this process until interrupted (the body of ``dfx start --no-watch``).

    Under ``--watch`` the supervisor passes the listening socket as ``fd`` and its own pid as ``supervisor_pid``.
    """
    # The port first: a taken one is said before Azurite is started or the app imported for nothing.
    sock = socket.socket(fileno=fd) if fd is not None else listen_socket(settings.port)
    install_logging(console)
    apply_environment(settings)
    for notice in settings.notices:
        console.warning(notice)
    before = time.perf_counter()
    started = (
        azurite.ensure_azurite(
            settings.storage,
            data_dir=settings.state_dir / "azurite",
            log_path=settings.state_dir / AZURITE_LOG,
            say=lambda text: console.line(text, "dim"),
        )
        if fd is None
        else None
    )
    waited_ms = (time.perf_counter() - before) * 1000 if started is not None else 0.0
    try:
        asyncio.run(Host(settings, console, waited_ms=waited_ms).serve(sock, supervisor_pid=supervisor_pid))
    finally:
        if started is not None:
            started.stop()
            console.line("Azurite stopped.", "dim")
