"""Every failure of a storage call reaches callers as one typed family: StorageError with status and code."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from dfx.emulator.storage import development_storage
from dfx.emulator.storage.clients import storage_call, translate
from dfx.emulator.storage.errors import (
    StorageError,
    StorageRefusedError,
    StorageServiceError,
    StorageUnavailableError,
    TaskHubNotFoundError,
)
from dfx.emulator.storage.rest import ServiceError

ACCOUNT = development_storage()


def sdk_error(status: int, code: str, message: str) -> HttpResponseError:
    error = HttpResponseError(message=message)
    error.status_code = status
    error.error_code = code  # type: ignore[attr-defined]  # as the storage SDKs set it
    return error


def test_a_5xx_answer_of_the_rest_client_is_a_transient_service_error_naming_the_endpoint():
    typed = translate(ServiceError(503, "ServerBusy", "The server is busy.\nRequestId:1"), ACCOUNT, "queue")
    assert isinstance(typed, StorageServiceError) and not isinstance(typed, ServiceError)
    assert (typed.status, typed.code, typed.transient) == (503, "ServerBusy", True)
    assert typed.message == (
        "Storage account devstoreaccount1 at http://127.0.0.1:10001/devstoreaccount1 answered 503 ServerBusy: "
        "The server is busy."
    )
    assert "retries" in (typed.hint or "")


def test_an_unexpected_4xx_of_an_sdk_is_a_service_error_with_its_code():
    typed = translate(sdk_error(409, "TableBeingDeleted", "The table is being deleted."), ACCOUNT, "table")
    assert isinstance(typed, StorageServiceError)
    assert (typed.status, typed.code, typed.transient) == (409, "TableBeingDeleted", False)
    assert typed.message.endswith("answered 409 TableBeingDeleted: The table is being deleted.")
    assert "--verbose" in (typed.hint or "")


@pytest.mark.parametrize(
    "error",
    [
        ServiceError(403, "AuthenticationFailed", "Server failed to authenticate the request."),
        ClientAuthenticationError(message="Server failed to authenticate the request."),
        sdk_error(403, "AuthorizationPermissionMismatch", "This request is not authorized."),
    ],
)
def test_refused_credentials_are_one_type_with_the_hint_to_check_the_key(error):
    typed = translate(error, ACCOUNT, "table")
    assert isinstance(typed, StorageRefusedError) and typed.status == 403
    assert "refused the credentials" in typed.message
    assert "AccountKey" in (typed.hint or "")


@pytest.mark.parametrize(
    "error",
    [
        aiohttp.ServerDisconnectedError(),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncio.TimeoutError(),
        ServiceRequestError("Cannot connect to host"),
    ],
)
def test_no_answer_is_storage_unavailable(error):
    typed = translate(error, ACCOUNT, "blob")
    assert isinstance(typed, StorageUnavailableError)
    assert "http://127.0.0.1:10000/devstoreaccount1 does not answer" in typed.message


def test_typed_errors_and_bugs_are_left_as_they_are():
    assert translate(TaskHubNotFoundError("no hub"), ACCOUNT, "table") is None
    assert translate(KeyError("bug"), ACCOUNT, "table") is None


def test_storage_call_raises_the_typed_error_with_its_service_and_cause():
    class Queues:
        account = ACCOUNT
        service = "queue"

        @storage_call
        async def receive(self) -> None:
            raise ServiceError(500, "InternalError", "Server error.")

    with pytest.raises(StorageError) as info:
        asyncio.run(Queues().receive())
    assert isinstance(info.value, StorageServiceError) and info.value.service == "queue"
    assert isinstance(info.value.__cause__, ServiceError)


def test_lease_and_pop_receipt_answers_are_named():
    assert StorageServiceError("x", status=409, code="LeaseIdMismatchWithLeaseOperation").lease_lost
    assert StorageServiceError("x", status=404, code="PopReceiptMismatch").pop_receipt_mismatch
    assert not StorageServiceError("x", status=409, code="TableAlreadyExists").lease_lost
