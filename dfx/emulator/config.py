"""host.json + local.settings.json + environment -> one frozen Settings object."""

from __future__ import annotations

import json
import os
import re
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
_SETTING_REF = re.compile(r"%([^%]+)%")


class ConfigError(DfxError):
    """A configuration file or value that dfx cannot use."""


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


def _durable_section(host: Mapping[str, Any]) -> Mapping[str, Any]:
    extensions = host.get("extensions")
    section = extensions.get("durableTask") if isinstance(extensions, Mapping) else None
    return section if isinstance(section, Mapping) else {}


@dataclass(frozen=True)
class Settings:
    """Everything dfx reads from an app folder, resolved once and passed explicitly."""

    app_dir: Path
    hub_name: str
    storage_connection: str
    partition_count: int = DEFAULT_PARTITION_COUNT
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def storage(self) -> StorageAccount:
        return parse_connection_string(self.storage_connection)


def _substitute(value: str, lookup: Mapping[str, str], what: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in lookup:
            raise ConfigError(f"{what} refers to app setting %{name}%, which is not set.")
        return lookup[name]

    return _SETTING_REF.sub(replace, value)


def load_settings(
    app_dir: Path | str = ".",
    *,
    task_hub: str | None = None,
    connection: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve hub name, storage connection and partition count for ``app_dir``.

    ``connection`` is a connection string or the name of an app setting holding one (default
    ``AzureWebJobsStorage``; development storage when that is not set). Environment variables win over
    local.settings.json ``Values``, as in Core Tools.
    """
    app = Path(app_dir).resolve()
    env = dict(os.environ if environ is None else environ)
    local = read_json_file(app / LOCAL_SETTINGS) or {}
    file_values = local.get("Values") or {}
    if not isinstance(file_values, Mapping):
        raise ConfigError(f"{app / LOCAL_SETTINGS}: 'Values' must be an object of setting names to strings.")
    values = {str(k): str(v) for k, v in file_values.items() if v is not None}
    values.update(env)

    host = read_json_file(app / HOST_JSON) or {}
    durable = _durable_section(host)
    hub = task_hub or durable.get("hubName") or DEFAULT_HUB_NAME
    if not isinstance(hub, str):
        raise ConfigError(f"{app / HOST_JSON}: extensions.durableTask.hubName must be a string.")
    hub = _substitute(hub, values, "extensions.durableTask.hubName")

    provider = durable.get("storageProvider")
    count = provider.get("partitionCount", DEFAULT_PARTITION_COUNT) if isinstance(provider, Mapping) else None
    if count is None:
        count = DEFAULT_PARTITION_COUNT
    if not isinstance(count, int) or isinstance(count, bool):
        raise ConfigError(f"{app / HOST_JSON}: storageProvider.partitionCount must be a whole number from 1 to 16.")

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

    TaskHubNames(hub, count)  # validates both before anything touches storage
    return Settings(app_dir=app, hub_name=hub, storage_connection=conn_string, partition_count=count, values=values)
