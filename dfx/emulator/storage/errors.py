"""Typed errors of the task hub storage layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

from dfx.errors import DfxError


class StorageError(DfxError):
    """Base class of every storage-layer failure."""

    service: str | None = None
    """The storage service that failed ("blob", "queue", "table"), when known."""

    def at(self, service: str | None) -> Self:
        """This error, saying which service failed."""
        self.service = service
        return self


class ConnectionStringError(StorageError):
    """A connection string that cannot be understood."""

    hint = (
        "Use 'UseDevelopmentStorage=true' for Azurite, or a full account string "
        "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net'."
    )


class StorageUnavailableError(StorageError):
    """The storage endpoints do not answer (Azurite not running, wrong port, no network)."""

    hint = "Start Azurite with 'dfx azurite start', or check the connection string's endpoints."


class TaskHubNameError(StorageError):
    """A task hub name that breaks the naming rule."""

    hint = "Pick a name like 'MyTaskHub' and set it in host.json: extensions.durableTask.hubName."


class TaskHubNotFoundError(StorageError):
    """The task hub's tables do not exist in this account."""

    hint = "Check --task-hub (names are case-insensitive), or list the hubs with 'dfx taskhub list'."


class CheckpointConflictError(StorageError):
    """Another writer changed an instance's history since it was read (sentinel ETag mismatch).

    The checkpoint wrote nothing; the caller abandons its messages and retries later ("split brain"
    in the provider's words).
    """


class PayloadLimitError(StorageError):
    """A value beyond a limit of Azure Storage or of the task hub format."""


class InvalidPartitionCountError(PayloadLimitError):
    """A partition count outside 1..16."""

    hint = "Set extensions.durableTask.storageProvider.partitionCount in host.json to a value from 1 to 16."


class InstanceNotFoundError(StorageError):
    """No instance with the given id exists in the task hub."""

    hint = "List the instances with 'dfx inspect instances' (ids are case-sensitive)."
