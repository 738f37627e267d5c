"""host.json + local.settings.json + environment -> one frozen Settings object."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfx.emulator.storage.connection import StorageAccount, parse_connection_string
from dfx.emulator.storage.errors import ConnectionStringError
from dfx.emulator.storage.names import DEFAULT_HUB_NAME, DEFAULT_PARTITION_COUNT, TaskHubNames
from dfx.errors import DfxError

HOST_JSON = "host.json"
LOCAL_SETTINGS = "local.settings.json"
STORAGE_SETTING = "AzureWebJobsStorage"
DEV_STORAGE = "UseDevelopmentStorage=true"
DEFAULT_PORT = 7071
DEFAULT_SCRIPT = "function_app.py"
DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)  # the worker's default, as ThreadPoolExecutor's
_SETTING_REF = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)")


class ConfigError(DfxError):
    """A configuration file or value that dfx cannot use."""


class NoAppError(ConfigError):
    """``dfx start`` given a folder that holds no function app: no host.json, or no app script beside it."""


def read_json_file(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, None if the file does not exist; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}.",
            hint="Fix the file (JSON allows no comments or trailing commas).",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object, not {type(data).__name__}.")
    return data


def _section(data: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The nested object at ``path`` (case-insensitive keys, as the host reads them), or an empty one."""
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping):
            return {}
        node = next((v for k, v in node.items() if isinstance(k, str) and k.lower() == key.lower()), None)
    return node if isinstance(node, Mapping) else {}


def _get(section: Mapping[str, Any], key: str, default: Any = None) -> Any:
    return next((v for k, v in section.items() if isinstance(k, str) and k.lower() == key.lower()), default)


def parse_timespan(value: Any, what: str) -> float:
    """Seconds in a .NET TimeSpan text (``"00:00:30"``, ``"1.02:03:04.5"``) or a plain number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _TIMESPAN.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ConfigError(f'{what} must be a time span like "00:00:30", not {value!r}.')
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be a whole number of at least 1, not {value!r}.")
    return value


def _positive_span(seconds: float, what: str) -> float:
    if seconds <= 0:
        raise ConfigError(f"{what} must be longer than zero.")
    return seconds


def _non_negative_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{what} must be a number of at least 0, not {value!r}.")
    return float(value)


@dataclass(frozen=True)
class DurableOptions:
    """``extensions.durableTask`` of host.json: the task hub and how the engine drives it."""

    hub_name: str = DEFAULT_HUB_NAME
    partition_count: int = DEFAULT_PARTITION_COUNT
    max_queue_polling_interval: float = 30.0
    control_queue_batch_size: int = 32
    overridable_existing_instance_states: str = "NonRunningStates"
    """``overridableExistingInstanceStates``: ``NonRunningStates`` refuses to restart a running id, ``AnyState``
    replaces it."""
    default_version: str = ""
    """``defaultVersion``: the version given to orchestrations started without one."""
    control_queue_visibility_timeout: float = 300.0
    work_item_queue_visibility_timeout: float = 300.0
    max_concurrent_activity_functions: int = 10 * (os.cpu_count() or 1)
    max_concurrent_orchestrator_functions: int = 10 * (os.cpu_count() or 1)
    max_concurrent_entity_functions: int = 10 * (os.cpu_count() or 1)
    max_entity_operation_batch_size: int = 5000
    lease_interval: float = 30.0
    """``storageProvider.leaseInterval``: how long a partition lease lasts unless renewed."""
    lease_renew_interval: float = 10.0
    """``storageProvider.leaseRenewInterval``: seconds between lease rounds (renew, claim, release)."""
    entity_message_reorder_window: float = 30 * 60.0
    """``entityMessageReorderWindowInMinutes`` in seconds: how long an entity holds back a request whose
    predecessor from the same orchestration has not arrived (0 turns ordering and de-duplication off)."""


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` of host.json: how queue-triggered functions poll, as the Storage extension does."""

    batch_size: int = 16
    """Messages received per poll (at most 32)."""
    new_batch_threshold: int = 8 * (os.cpu_count() or 1)
    """Messages still running at or below which the next batch is fetched (default ``batchSize / 2 * CPUs``)."""
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    """Seconds a message that failed stays hidden before it is tried again."""
    max_dequeue_count: int = 5
    """Tries before a message moves to ``{queue}-poison``."""
    message_encoding: str = "base64"


@dataclass(frozen=True)
class Settings:
    """Everything dfx reads from an app folder and its command line, resolved once and passed explicitly."""

    app_dir: Path
    storage_connection: str
    durable: DurableOptions = field(default_factory=DurableOptions)
    queues: QueueOptions = field(default_factory=QueueOptions)
    values: Mapping[str, str] = field(default_factory=dict)
    """App settings as the user code sees them: the environment over local.settings.json ``Values``."""
    environment_updates: Mapping[str, str] = field(default_factory=dict)
    """``Values`` the host puts into ``os.environ`` because the environment does not already set them."""
    notices: tuple[str, ...] = ()
    """Things the user should be told at start (skipped settings, ignored options)."""
    route_prefix: str = "api"
    port: int = DEFAULT_PORT
    cors: tuple[str, ...] = ()
    cors_credentials: bool = False
    script_file: str = DEFAULT_SCRIPT
    functions: tuple[str, ...] = ()
    """Only these functions are loaded (``--functions``); empty means all."""
    thread_count: int = DEFAULT_THREADS
    enforce_keys: bool = False
    verbose: bool = False
    watch: bool = True

    @property
    def hub_name(self) -> str:
        return self.durable.hub_name

    @property
    def partition_count(self) -> int:
        return self.durable.partition_count

    @property
    def storage(self) -> StorageAccount:
        return parse_connection_string(self.storage_connection)

    @property
    def script_path(self) -> Path:
        return self.app_dir / self.script_file

    @property
    def state_dir(self) -> Path:
        """Where dfx keeps its own files for this app (keys, Azurite's data)."""
        return self.app_dir / ".dfx"


def _substitute(value: str, lookup: Mapping[str, str], what: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in lookup:
            raise ConfigError(f"{what} refers to app setting %{name}%, which is not set.")
        return lookup[name]

    return _SETTING_REF.sub(replace, value)


def _queue_options(host: Mapping[str, Any], where: str) -> QueueOptions:
    section = _section(host, "extensions", "queues")
    prefix = f"{where}: extensions.queues"
    batch = _positive_int(_get(section, "batchSize", 16), f"{prefix}.batchSize")
    if batch > 32:
        raise ConfigError(f"{prefix}.batchSize must be at most 32 (the most a queue gives per receive).")
    threshold = _get(section, "newBatchThreshold")
    threshold = batch // 2 * (os.cpu_count() or 1) if threshold is None else threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ConfigError(f"{prefix}.newBatchThreshold must be a whole number of at least 0.")
    polling = _get(section, "maxPollingInterval")
    polling_seconds = 60.0 if polling is None else parse_timespan(polling, f"{prefix}.maxPollingInterval")
    if polling_seconds < 0.1:
        raise ConfigError(f"{prefix}.maxPollingInterval must be at least 100 ms.")
    visibility = _get(section, "visibilityTimeout")
    encoding = str(_get(section, "messageEncoding") or "base64").lower()
    if encoding not in ("base64", "none"):
        raise ConfigError(f"{prefix}.messageEncoding must be base64 or none, not {encoding!r}.")
    return QueueOptions(
        batch_size=batch,
        new_batch_threshold=threshold,
        max_polling_interval=polling_seconds,
        visibility_timeout=0.0 if visibility is None else parse_timespan(visibility, f"{prefix}.visibilityTimeout"),
        max_dequeue_count=_positive_int(_get(section, "maxDequeueCount", 5), f"{prefix}.maxDequeueCount"),
        message_encoding=encoding,
    )


def _durable_options(host: Mapping[str, Any], hub_override: str | None, values: Mapping[str, str], where: str,
                     notices: list[str]) -> DurableOptions:  # fmt: skip
    durable = _section(host, "extensions", "durableTask")
    hub = hub_override or _get(durable, "hubName") or DEFAULT_HUB_NAME
    if not isinstance(hub, str):
        raise ConfigError(f"{where}: extensions.durableTask.hubName must be a string.")
    hub = _substitute(hub, values, "extensions.durableTask.hubName")

    provider = _section(durable, "storageProvider")
    kind = _get(provider, "type")
    if isinstance(kind, str) and kind.lower() not in ("azurestorage", "azure_storage", ""):
        notices.append(
            f"{where}: storageProvider.type {kind!r} is not supported by dfx; the Azure Storage provider is used."
        )
    count = _get(provider, "partitionCount", DEFAULT_PARTITION_COUNT)
    if isinstance(count, bool) or not isinstance(count, int):
        raise ConfigError(f"{where}: storageProvider.partitionCount must be a whole number from 1 to 16.")
    defaults = DurableOptions()
    polling = _get(provider, "maxQueuePollingInterval")
    prefix = f"{where}: extensions.durableTask"

    def span(name: str, default: float) -> float:
        value = _get(provider, name)
        return default if value is None else parse_timespan(value, f"{prefix}.storageProvider.{name}")

    batch = _get(provider, "controlQueueBatchSize", defaults.control_queue_batch_size)
    activities = _get(durable, "maxConcurrentActivityFunctions", defaults.max_concurrent_activity_functions)
    orchestrators = _get(durable, "maxConcurrentOrchestratorFunctions", defaults.max_concurrent_orchestrator_functions)
    entities = _get(durable, "maxConcurrentEntityFunctions", defaults.max_concurrent_entity_functions)
    entity_batch = _get(durable, "maxEntityOperationBatchSize", defaults.max_entity_operation_batch_size)
    overridable = str(_get(durable, "overridableExistingInstanceStates") or "NonRunningStates")
    if overridable.lower() not in ("nonrunningstates", "anystate"):
        raise ConfigError(f"{prefix}.overridableExistingInstanceStates must be NonRunningStates or AnyState.")
    lease_interval = _positive_span(
        span("leaseInterval", defaults.lease_interval), f"{prefix}.storageProvider.leaseInterval"
    )
    lease_renew = _positive_span(
        span("leaseRenewInterval", defaults.lease_renew_interval), f"{prefix}.storageProvider.leaseRenewInterval"
    )
    if lease_renew >= lease_interval:
        raise ConfigError(f"{prefix}.storageProvider.leaseRenewInterval must be shorter than leaseInterval.")
    default_version = _get(durable, "defaultVersion") or ""
    if not isinstance(default_version, str):
        raise ConfigError(f"{prefix}.defaultVersion must be a string.")
    return DurableOptions(
        hub_name=hub,
        default_version=default_version,
        overridable_existing_instance_states=("AnyState" if overridable.lower() == "anystate" else "NonRunningStates"),
        partition_count=count,
        max_queue_polling_interval=(
            defaults.max_queue_polling_interval
            if polling is None
            else parse_timespan(polling, f"{prefix}.storageProvider.maxQueuePollingInterval")
        ),
        control_queue_batch_size=_positive_int(batch, f"{prefix}.storageProvider.controlQueueBatchSize"),
        control_queue_visibility_timeout=span(
            "controlQueueVisibilityTimeout", defaults.control_queue_visibility_timeout
        ),
        work_item_queue_visibility_timeout=span(
            "workItemQueueVisibilityTimeout", defaults.work_item_queue_visibility_timeout
        ),
        max_concurrent_activity_functions=_positive_int(activities, f"{prefix}.maxConcurrentActivityFunctions"),
        max_concurrent_orchestrator_functions=_positive_int(
            orchestrators, f"{prefix}.maxConcurrentOrchestratorFunctions"
        ),
        max_concurrent_entity_functions=_positive_int(entities, f"{prefix}.maxConcurrentEntityFunctions"),
        max_entity_operation_batch_size=_positive_int(entity_batch, f"{prefix}.maxEntityOperationBatchSize"),
        lease_interval=lease_interval,
        lease_renew_interval=lease_renew,
        entity_message_reorder_window=60.0
        * _non_negative_number(
            _get(durable, "entityMessageReorderWindowInMinutes", defaults.entity_message_reorder_window / 60),
            f"{prefix}.entityMessageReorderWindowInMinutes",
        ),
    )


def _local_settings(path: Path) -> tuple[dict[str, str], Mapping[str, Any]]:
    """``Values`` and ``Host`` of local.settings.json."""
    local = read_json_file(path) or {}
    file_values = _get(local, "Values") or {}
    if not isinstance(file_values, Mapping):
        raise ConfigError(f"{path}: 'Values' must be an object of setting names to strings.")
    for key, value in file_values.items():
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{path}: Values.{key} must be a string, not a JSON {type(value).__name__}.")
    values = {str(k): _setting_text(v) for k, v in file_values.items() if v is not None}
    host = _get(local, "Host") or {}
    if not isinstance(host, Mapping):
        raise ConfigError(f"{path}: 'Host' must be an object.")
    return values, host


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _port(value: Any, what: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 1 <= port <= 65535 or isinstance(value, bool):  # 0 would be any free port: not one clients can be told
        raise ConfigError(f"{what} must be a port number from 1 to 65535, not {value!r}.")
    return port


def _origins(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(origin.strip() for origin in items if str(origin).strip())


def load_settings(
    app_dir: Path | str = ".",
    *,
    task_hub: str | None = None,
    connection: str | None = None,
    environ: Mapping[str, str] | None = None,
    port: int | None = None,
    cors: str | None = None,
    cors_credentials: bool | None = None,
    functions: tuple[str, ...] = (),
    enforce_keys: bool = False,
    verbose: bool = False,
    watch: bool = True,
) -> Settings:
    """Resolve every setting for ``app_dir``: command-line options over the environment over the files.

    ``connection`` is a connection string or the name of an app setting holding one (default
    ``AzureWebJobsStorage``; development storage when that is not set). Environment variables win over
    local.settings.json ``Values``, as in Core Tools.
    """
    app = Path(app_dir).resolve()
    env = dict(os.environ if environ is None else environ)
    notices: list[str] = []
    file_values, local_host = _local_settings(app / LOCAL_SETTINGS)
    updates = {k: v for k, v in file_values.items() if k not in env}
    notices.extend(
        f"Skipping '{k}' from local settings as it's already defined in current environment variables."
        for k in file_values
        if k in env
    )
    values = {**file_values, **env}

    host_path = app / HOST_JSON
    host = read_json_file(host_path) or {}
    version = _get(host, "version")
    if host and version is None:
        notices.append(f'{host_path}: no "version" property; version 2.0 is assumed.')
    elif version is not None and str(version) != "2.0":
        raise ConfigError(
            f"{host_path}: version {version!r} is not supported.", hint='Set "version": "2.0" (Functions v2 and later).'
        )
    durable = _durable_options(host, task_hub, values, str(host_path), notices)
    prefix = _get(_section(host, "extensions", "http"), "routePrefix", "api")
    if not isinstance(prefix, str):
        raise ConfigError(f"{host_path}: extensions.http.routePrefix must be a string.")

    if connection and "=" in connection:
        conn_string = connection
    else:
        name = connection or STORAGE_SETTING
        found = values.get(name)
        if found is None and connection:
            raise ConfigError(
                f"App setting {name!r} is not set in the environment or {LOCAL_SETTINGS}.",
                hint="Pass a connection string with --connection, or add the setting to local.settings.json.",
            )
        conn_string = found or DEV_STORAGE
    try:
        parse_connection_string(conn_string)
    except ConnectionStringError as exc:
        raise ConnectionStringError(f"{exc.message} (from {connection or STORAGE_SETTING})") from exc

    TaskHubNames(durable.hub_name, durable.partition_count)  # validates both before anything touches storage
    local_port = _get(local_host, "LocalHttpPort")
    threads = values.get("PYTHON_THREADPOOL_THREAD_COUNT")
    return Settings(
        app_dir=app,
        storage_connection=conn_string,
        durable=durable,
        queues=_queue_options(host, str(host_path)),
        values=values,
        environment_updates=updates,
        notices=tuple(notices),
        route_prefix=prefix.strip("/"),
        port=port
        if port is not None
        else _port(local_port, f"{LOCAL_SETTINGS} Host.LocalHttpPort")
        if local_port is not None
        else DEFAULT_PORT,
        cors=_origins(cors) if cors is not None else _origins(_get(local_host, "CORS")),
        cors_credentials=bool(
            cors_credentials if cors_credentials is not None else _get(local_host, "CORSCredentials")
        ),
        script_file=values.get("PYTHON_SCRIPT_FILE_NAME") or DEFAULT_SCRIPT,
        functions=functions,
        thread_count=_positive_int(int(threads), "PYTHON_THREADPOOL_THREAD_COUNT")
        if threads and threads.isdigit()
        else DEFAULT_THREADS,
        enforce_keys=enforce_keys,
        verbose=verbose,
        watch=watch,
    )


def _init_command(app_dir: Path | str) -> str:
    """``dfx init`` for ``app_dir`` as the user gave it (no folder argument for the current one)."""
    given = str(app_dir)
    return "dfx init" if Path(given).resolve() == Path.cwd().resolve() else f"dfx init {shlex.quote(given)}"


def require_project_root(app_dir: Path | str) -> None:
    """Refuse a folder without host.json before anything is read or started for it.

    Core Tools' ``func start`` says "Unable to find project root. Expecting to find one of host.json,
    local.settings.json in project root."; dfx takes the folder it is given (it does not search the parents)
    and needs its host.json, which Azure needs too.
    """
    app = Path(app_dir).resolve()
    if not app.exists():
        raise NoAppError(
            f"Unable to find project root: {app} does not exist.",
            hint=f"Create a function app there with: {_init_command(app_dir)}",
        )
    if not app.is_dir():
        raise NoAppError(
            f"Unable to find project root: {app} is a file, not a folder.",
            hint="Pass the function app's folder: dfx start APP_DIR",
        )
    if not (app / HOST_JSON).is_file():
        hint = (
            f'Add a {HOST_JSON} holding {{"version": "2.0"}} beside {DEFAULT_SCRIPT}.'
            if (app / DEFAULT_SCRIPT).is_file()
            else "Run dfx start in a function app's folder (or pass it: dfx start APP_DIR), "
            f"or create an app with: {_init_command(app_dir)}"
        )
        raise NoAppError(f"Unable to find project root: {app} has no {HOST_JSON}.", hint=hint)


def require_app_script(settings: Settings) -> None:
    """Refuse a project root whose app script (``function_app.py`` or ``PYTHON_SCRIPT_FILE_NAME``) is missing."""
    if settings.script_path.is_file():
        return
    if settings.script_file == DEFAULT_SCRIPT:
        raise NoAppError(
            f"{settings.app_dir} has a {HOST_JSON} but no {DEFAULT_SCRIPT}: there is no app to host.",
            hint=f"Create the app with: {_init_command(settings.app_dir)} --force (it rewrites host.json and "
            "local.settings.json too), or set PYTHON_SCRIPT_FILE_NAME to your app's script.",
        )
    raise NoAppError(
        f"{settings.app_dir} has a {HOST_JSON} but no {settings.script_file} (PYTHON_SCRIPT_FILE_NAME): "
        "there is no app to host.",
        hint=f"Create {settings.script_file}, or set PYTHON_SCRIPT_FILE_NAME (in the environment or "
        f"{LOCAL_SETTINGS}) to your app's script.",
    )
