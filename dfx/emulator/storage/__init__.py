"""The task hub in Azure Storage, in exactly the layout of the Durable Task Azure Storage provider."""

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
from dfx.emulator.storage.taskhub import PurgeResult, TaskHub, list_task_hubs

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
