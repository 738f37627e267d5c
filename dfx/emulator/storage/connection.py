"""Storage connection strings: development storage, Azurite with custom ports, and real accounts."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import urlsplit

from dfx.emulator.storage.errors import ConnectionStringError

DEV_ACCOUNT_NAME = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_HOST = "127.0.0.1"
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
SERVICES = ("blob", "queue", "table")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0"}

_KNOWN_KEYS = {
    "defaultendpointsprotocol": "DefaultEndpointsProtocol",
    "accountname": "AccountName",
    "accountkey": "AccountKey",
    "endpointsuffix": "EndpointSuffix",
    "blobendpoint": "BlobEndpoint",
    "queueendpoint": "QueueEndpoint",
    "tableendpoint": "TableEndpoint",
    "filendpoint": "FileEndpoint",
    "fileendpoint": "FileEndpoint",
    "sharedaccesssignature": "SharedAccessSignature",
    "usedevelopmentstorage": "UseDevelopmentStorage",
    "developmentstorageproxyuri": "DevelopmentStorageProxyUri",
}


@dataclass(frozen=True)
class StorageAccount:
    """One storage account's endpoints and credentials, parsed from a connection string."""

    account_name: str
    blob_endpoint: str
    queue_endpoint: str
    table_endpoint: str
    account_key: str | None = None
    sas_token: str | None = None

    def endpoint(self, service: str) -> str:
        return {"blob": self.blob_endpoint, "queue": self.queue_endpoint, "table": self.table_endpoint}[service]

    @property
    def is_local(self) -> bool:
        """True when every endpoint points at this machine (Azurite), so dfx may start it."""
        return all(urlsplit(self.endpoint(s)).hostname in _LOCAL_HOSTS for s in SERVICES)

    def port(self, service: str) -> int:
        parts = urlsplit(self.endpoint(service))
        if parts.port is not None:
            return parts.port
        return 443 if parts.scheme == "https" else 80

    def connection_string(self) -> str:
        """An explicit connection string that every Azure SDK client accepts."""
        fields = [
            f"AccountName={self.account_name}",
            f"BlobEndpoint={self.blob_endpoint}",
            f"QueueEndpoint={self.queue_endpoint}",
            f"TableEndpoint={self.table_endpoint}",
        ]
        if self.account_key:
            fields.insert(0, "DefaultEndpointsProtocol=" + urlsplit(self.blob_endpoint).scheme)
            fields.insert(2, f"AccountKey={self.account_key}")
        if self.sas_token:
            fields.append(f"SharedAccessSignature={self.sas_token}")
        return ";".join(fields) + ";"

    def describe(self, service: str | None = None) -> str:
        """A short, secret-free description for messages: the account and the endpoint of ``service``
        ("blob", "queue" or "table"; the table endpoint when not given)."""
        endpoint = {"blob": self.blob_endpoint, "queue": self.queue_endpoint}.get(service or "", self.table_endpoint)
        return f"{self.account_name} at {endpoint}"


def development_storage(
    *, host: str = DEV_HOST, blob_port: int = 10000, queue_port: int = 10001, table_port: int = 10002
) -> StorageAccount:
    """The Azurite account on the given ports (the defaults are what UseDevelopmentStorage=true means)."""
    return StorageAccount(
        account_name=DEV_ACCOUNT_NAME,
        account_key=DEV_ACCOUNT_KEY,
        blob_endpoint=f"http://{host}:{blob_port}/{DEV_ACCOUNT_NAME}",
        queue_endpoint=f"http://{host}:{queue_port}/{DEV_ACCOUNT_NAME}",
        table_endpoint=f"http://{host}:{table_port}/{DEV_ACCOUNT_NAME}",
    )


def _split_pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConnectionStringError(
                f"Malformed connection string: {part.split('=')[0][:40]!r} is not a 'Key=Value' pair."
            )
        canonical = _KNOWN_KEYS.get(key.strip().lower())
        if canonical is None:
            raise ConnectionStringError(f"Malformed connection string: unknown key {key.strip()!r}.")
        pairs[canonical] = value.strip()
    return pairs


def _check_endpoint(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionStringError(f"Malformed connection string: {name} {url!r} is not an http(s) URL.")
    return url.rstrip("/")


def _is_base64(text: str) -> bool:
    """Whether ``text`` is standard base64, as an account key is (the portal shows 88 characters)."""
    try:
        return bool(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return False


def parse_connection_string(text: str) -> StorageAccount:
    """Parse an Azure Storage connection string into a StorageAccount, or raise ConnectionStringError."""
    if not text or not text.strip():
        raise ConnectionStringError("The storage connection string is empty.")
    pairs = _split_pairs(text)
    if pairs.get("UseDevelopmentStorage", "").lower() == "true":
        proxy = pairs.get("DevelopmentStorageProxyUri")
        host = urlsplit(proxy).hostname if proxy else DEV_HOST
        return development_storage(host=host or DEV_HOST)
    if "UseDevelopmentStorage" in pairs:
        raise ConnectionStringError("Malformed connection string: UseDevelopmentStorage must be 'true'.")

    account = pairs.get("AccountName")
    key = pairs.get("AccountKey") or None
    sas = pairs.get("SharedAccessSignature") or None
    if not account:
        raise ConnectionStringError("Malformed connection string: AccountName is missing.")
    if not key and not sas:
        raise ConnectionStringError("Malformed connection string: it needs an AccountKey or a SharedAccessSignature.")
    if key and not _is_base64(key):
        raise ConnectionStringError(
            "Malformed connection string: AccountKey is not valid base64 (it is cut short, or holds other text)."
        )
    protocol = pairs.get("DefaultEndpointsProtocol", "https").lower()
    if protocol not in ("http", "https"):
        raise ConnectionStringError(
            f"Malformed connection string: DefaultEndpointsProtocol must be http or https, not {protocol!r}."
        )
    suffix = pairs.get("EndpointSuffix", "core.windows.net")
    endpoints = {}
    for service in SERVICES:
        explicit = pairs.get(f"{service.capitalize()}Endpoint")
        url = explicit or f"{protocol}://{account}.{service}.{suffix}"
        endpoints[service] = _check_endpoint(f"{service.capitalize()}Endpoint", url)
    return StorageAccount(
        account_name=account,
        account_key=key,
        sas_token=sas.lstrip("?") if sas else None,
        blob_endpoint=endpoints["blob"],
        queue_endpoint=endpoints["queue"],
        table_endpoint=endpoints["table"],
    )
