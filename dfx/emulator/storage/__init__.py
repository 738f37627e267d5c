"""The task hub in Azure Storage, in exactly the layout of the Durable Task Azure Storage provider."""

from typing import TYPE_CHECKING, Any

from dfx.emulator.storage.connection import StorageAccount, development_storage, parse_connection_string
from dfx.emulator.storage.errors import (
    CheckpointConflictError,
    ConnectionStringError,
    InstanceNotFoundError,
    PayloadLimitError,
    StorageError,
    StorageUnavailableError,
    TaskHubNameError,
    TaskHubNotFoundError,
)

if TYPE_CHECKING:
    from dfx.emulator.storage.taskhub import PurgeResult, TaskHub, list_task_hubs

_LAZY = {"PurgeResult", "TaskHub", "list_task_hubs"}


def __getattr__(name: str) -> Any:
    """Load the task hub (and with it the Azure SDKs) on first use, so that settings and names stay cheap."""
    if name in _LAZY:
        from dfx.emulator.storage import taskhub

        return getattr(taskhub, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CheckpointConflictError",
    "ConnectionStringError",
    "InstanceNotFoundError",
    "PayloadLimitError",
    "PurgeResult",
    "StorageAccount",
    "StorageError",
    "StorageUnavailableError",
    "TaskHub",
    "TaskHubNameError",
    "TaskHubNotFoundError",
    "development_storage",
    "list_task_hubs",
    "parse_connection_string",
]
