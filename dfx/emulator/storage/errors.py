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


class StorageServiceError(StorageError):
    """A storage service answered with an error status that the operation did not expect.

    One type for the SDKs' ``HttpResponseError`` and dfx's REST client alike (as DTFx's
    ``DurableTaskStorageException`` is for the provider): ``status`` and ``code`` say what was answered.
    """

    def __init__(self, message: str, *, status: int, code: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code

    @property
    def transient(self) -> bool:
        """Worth a retry: the service was busy or failed (5xx, 408 timeout, 429 throttled)."""
        return self.status >= 500 or self.status in (408, 429)

    @property
    def lease_lost(self) -> bool:
        """A blob lease this process held is gone (taken, expired or broken)."""
        return self.status in (409, 412) and self.code.startswith("Lease")

    @property
    def pop_receipt_mismatch(self) -> bool:
        """A queue message was taken again by someone else (its pop receipt changed)."""
        return self.code == "PopReceiptMismatch"


class StorageRefusedError(StorageServiceError):
    """The account refused the request's credentials (wrong key, expired SAS, missing role)."""

    hint = "Check AccountName and AccountKey (or the SAS token) in the connection string."


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
