"""Async Azure Storage clients for one account, and the translation of transport failures."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import aiohttp
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.blob.aio import LinearRetry as BlobLinearRetry
from azure.storage.queue._shared.policies_async import LinearRetry as QueueLinearRetry
from azure.storage.queue.aio import QueueServiceClient

from dfx.emulator.storage.connection import StorageAccount
from dfx.emulator.storage.errors import (
    StorageError,
    StorageRefusedError,
    StorageServiceError,
    StorageUnavailableError,
)
from dfx.emulator.storage.rest import ServiceError, StorageRest

# Fail fast when nothing listens (Azurite down) yet ride out a brief blip of a real account. The table
# SDK takes azure-core retry settings; blob and queue have their own policy (15 s first back-off).
_COMMON: dict[str, Any] = {"connection_timeout": 3, "read_timeout": 60}
TABLE_OPTIONS: dict[str, Any] = {
    **_COMMON,
    "retry_total": 3,
    "retry_connect": 1,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 2,
}


def _storage_options(policy: type) -> dict[str, Any]:
    retry = policy(backoff=0.3, random_jitter_range=0.1, retry_total=3, retry_connect=1)
    return {**_COMMON, "retry_policy": retry}


P = ParamSpec("P")
T = TypeVar("T")


class StorageClients:
    """The table, queue and blob service clients of one account (async; close them when done).

    ``rest`` serves the engine's hot-path operations; the SDK clients everything else.
    """

    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        conn = account.connection_string()
        # Proxy and .netrc settings cannot apply to a local Azurite, and aiohttp would read them (in a thread)
        # on every request: a large share of the host's CPU under load.
        env: dict[str, Any] = {"use_env_settings": not account.is_local}
        self.tables = TableServiceClient.from_connection_string(conn, **TABLE_OPTIONS, **env)
        self.queues = QueueServiceClient.from_connection_string(conn, **_storage_options(QueueLinearRetry), **env)
        self.blobs = BlobServiceClient.from_connection_string(conn, **_storage_options(BlobLinearRetry), **env)
        self.rest = StorageRest(account, connect_timeout=_COMMON["connection_timeout"],
                                read_timeout=_COMMON["read_timeout"])  # fmt: skip

    async def close(self) -> None:
        await self.tables.close()
        await self.queues.close()
        await self.blobs.close()
        await self.rest.close()

    async def __aenter__(self) -> StorageClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def unavailable(account: StorageAccount, exc: BaseException, service: str | None = None) -> StorageUnavailableError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return StorageUnavailableError(f"Storage account {account.describe(service)} does not answer ({reason[:160]}).")


def refused(account: StorageAccount, message: str, service: str | None = None, *, status: int = 403,
            code: str = "") -> StorageRefusedError:  # fmt: skip
    first = message.splitlines()[0] if message else "access denied"
    return StorageRefusedError(
        f"Storage account {account.describe(service)} refused the credentials: {first}", status=status, code=code
    )


def answered(
    account: StorageAccount, status: int, code: str, message: str, service: str | None = None
) -> StorageServiceError:
    """The typed error for an error answer the operation did not expect, with a hint by its status."""
    if status in (401, 403):
        return refused(account, message, service, status=status, code=code)
    first = message.strip().splitlines()[0].strip() if message.strip() else ""
    what = " ".join(str(part) for part in (status, code) if part)
    text = f"Storage account {account.describe(service)} answered {what}" + (f": {first[:200]}" if first else ".")
    error = StorageServiceError(text, status=status, code=code)
    if error.transient:
        error.hint = "The service could not answer just now; dfx retries background work with back-off."
    else:
        error.hint = "The service refused the request: check the options given; --verbose shows the whole answer."
    return error


def translate(exc: BaseException, account: StorageAccount, service: str | None) -> StorageError | None:
    """The storage layer's typed error for a transport failure or an error answer, or None for anything else."""
    if isinstance(exc, StorageError) and not isinstance(exc, ServiceError):
        return None  # already typed (and said) by the layer below
    if isinstance(exc, _NO_ANSWER):
        return unavailable(account, exc, service)
    if isinstance(exc, ClientAuthenticationError):
        return refused(account, exc.message or str(exc), service, status=exc.status_code or 403,
                       code=getattr(exc, "error_code", None) or "")  # fmt: skip
    if isinstance(exc, ServiceError):
        return answered(account, exc.status, exc.code, exc.detail, service)
    if isinstance(exc, HttpResponseError):
        message = exc.message or ""
        if message.startswith("Operation returned an invalid status"):  # the SDK's words for "no error body"
            message = exc.reason or ""
        return answered(account, exc.status_code or 0, getattr(exc, "error_code", None) or "", message, service)
    return None


#: Transport failures: the service gave no answer.
_NO_ANSWER = (
    ServiceRequestError,
    ServiceResponseError,
    aiohttp.ClientConnectionError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
)


def storage_call(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn every transport failure and error answer of an async storage method into a typed ``StorageError``.

    The decorated method's ``self`` must have an ``account`` attribute, and may name its ``service``
    ("blob", "queue", "table"), so that the message names the endpoint that failed. Error answers the method
    handles itself (a 404 that means "not there", a 412 that means "changed") never get here.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        owner: Any = args[0]
        service = getattr(owner, "service", None)
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            typed = translate(exc, owner.account, service)
            if typed is None:
                raise
            raise typed.at(service) from exc

    return wrapper
