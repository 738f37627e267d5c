"""Output bindings that write to storage after a function returns (``queue`` for now), as the host does."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dfx.emulator.config import STORAGE_SETTING
from dfx.emulator.storage.connection import parse_connection_string
from dfx.emulator.worker.errors import AppLoadError
from dfx.emulator.worker.functions import IndexedFunction

if TYPE_CHECKING:
    from dfx.emulator.storage.clients import StorageClients

QUEUE = "queue"
SUPPORTED = (QUEUE, "http")


def queue_messages(value: Any) -> list[str]:
    """The message texts an ``Out`` value stands for: a str/bytes/QueueMessage each, a list one per item."""
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if item is None:
            continue
        if hasattr(item, "get_body"):
            item = item.get_body()
        if isinstance(item, (bytes, bytearray)):
            texts.append(bytes(item).decode("utf-8"))
        elif isinstance(item, str):
            texts.append(item)
        else:
            texts.append(json.dumps(item))
    return texts


class OutputWriter:
    """Sends each function's output-binding values to storage; one set of clients per connection."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self._clients: dict[str, StorageClients] = {}
        self._created: set[tuple[str, str]] = set()
        self.sent: Callable[[str, str], None] | None = None
        """Told ``(connection setting, queue)`` after messages were put: this host's queue listener polls at once."""

    def clients_for(self, setting: str) -> StorageClients:
        """The storage clients of the connection an app setting names (one set per connection string)."""
        connection = self._values.get(setting) or self._values.get(f"{setting}__connectionString")
        if not connection:
            raise AppLoadError(
                f"The connection setting {setting!r} is not set.",
                hint=f"Add {setting} (a storage connection string) to local.settings.json's Values.",
            )
        if connection not in self._clients:
            from dfx.emulator.storage.clients import StorageClients

            self._clients[connection] = StorageClients(parse_connection_string(connection))
        return self._clients[connection]

    async def write(self, function: IndexedFunction, outputs: Mapping[str, Any]) -> None:
        for binding in function.bindings:
            value = outputs.get(binding.name)
            if binding.type != QUEUE or value is None:
                continue
            setting = str(binding.settings.get("connection") or STORAGE_SETTING)
            queue_name = str(binding.settings.get("queueName")).lower()
            clients = self.clients_for(setting)
            queue = clients.queues.get_queue_client(queue_name)
            if (setting, queue_name) not in self._created:
                from azure.core.exceptions import ResourceExistsError

                with contextlib.suppress(ResourceExistsError):
                    await queue.create_queue()
                self._created.add((setting, queue_name))
            for text in queue_messages(value):
                # The Functions queue extension base64-encodes messages by default (messageEncoding).
                await queue.send_message(base64.b64encode(text.encode("utf-8")).decode("ascii"))
            if self.sent is not None:
                self.sent(setting, queue_name)

    async def close(self) -> None:
        for clients in self._clients.values():
            await clients.close()
        self._clients.clear()
