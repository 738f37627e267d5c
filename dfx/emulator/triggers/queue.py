"""Queue triggers: each queue function's messages are received, run and settled as the Storage extension does.

Every host polls (queues are competing consumers, no lock). A poll takes up to ``batchSize`` messages hidden
for 10 minutes (renewed every 5 while a function runs); the next poll comes as soon as no more than
``newBatchThreshold`` are still running, and an empty poll backs off from 100 ms, doubling with jitter, to
``maxPollingInterval``. A message whose function succeeds is deleted; one that fails shows again after
``visibilityTimeout``; at ``maxDequeueCount`` tries it moves to ``{queue}-poison`` (body unchanged) instead.
A queue that does not exist is not created: it is polled until it does, as the host polls it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dfx.emulator.config import STORAGE_SETTING, ConfigError, QueueOptions
from dfx.emulator.storage.app_queues import AppQueues
from dfx.emulator.storage.rest import QueueMessage
from dfx.emulator.worker.functions import IndexedFunction

log = logging.getLogger(__name__)

RECEIVE_VISIBILITY = 600
"""Seconds a received message stays hidden (the extension's fixed 10 minutes), renewed at half of it."""
MIN_POLL = 0.1

Fire = Callable[..., Awaitable[bool]]


def message_body(text: str, encoding: str) -> tuple[str | bytes, str]:
    """The function's payload and its data type (``string`` when UTF-8, else ``bytes``) from the stored text."""
    if encoding == "none":
        return text, "string"
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text, "string"  # not base64 after all: the text as it is
    try:
        return raw.decode("utf-8"), "string"
    except UnicodeDecodeError:
        return raw, "bytes"


def message_metadata(message: QueueMessage) -> dict[str, Any]:
    """The trigger metadata the host gives a queue function (``Id``, ``DequeueCount``, times, ``PopReceipt``)."""
    return {
        "Id": message.message_id,
        "DequeueCount": message.dequeue_count,
        "InsertionTime": message.inserted_on.isoformat() if message.inserted_on else None,
        "NextVisibleTime": message.next_visible_on.isoformat() if message.next_visible_on else None,
        "PopReceipt": message.pop_receipt,
    }


_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


def queue_source(function: IndexedFunction, values: Mapping[str, str]) -> tuple[str, str]:
    """The connection setting and queue name a queue trigger reads (``%SETTING%`` names resolved), checked."""
    settings = function.trigger.settings
    setting = str(settings.get("connection") or STORAGE_SETTING)
    raw = str(settings.get("queueName") or "").strip()
    if not raw:
        raise ConfigError("The queue trigger has no queueName.", hint="Pass queue_name= to @app.queue_trigger.")
    name = re.sub(r"%([^%]+)%", lambda m: values.get(m.group(1), m.group(0)), raw)
    if "%" in name:
        raise ConfigError(f"The queue name {raw!r} names an app setting that is not set.")
    name = name.lower()
    if not _QUEUE_NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a valid queue name.",
            hint="Queue names are 3-63 lower-case letters, digits and single hyphens, starting and ending with a "
            "letter or digit.",
        )
    return setting, name


@dataclass
class QueueListener:
    """Polls one queue for one function and runs each message."""

    function: IndexedFunction
    queue: str
    queues: AppQueues
    options: QueueOptions
    fire: Fire
    stopping: asyncio.Event

    def __post_init__(self) -> None:
        self.running: set[asyncio.Task[None]] = set()
        self.wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._missing_said = False

    def wake(self) -> None:
        """A message was put on this queue by this host: poll now instead of after the back-off."""
        self.wakeup.set()

    async def run(self) -> None:
        empty_polls = 0
        try:
            while not self.stopping.is_set():
                await self._wait_for_room()
                messages = await self.queues.receive(self.queue, self.options.batch_size, RECEIVE_VISIBILITY)
                if messages is None and not self._missing_said:
                    self._missing_said = True
                    log.warning("Queue %r of function %s does not exist yet; polling until it does.",
                                self.queue, self.function.name)  # fmt: skip
                if messages:
                    empty_polls = 0
                    for message in messages:
                        task = asyncio.create_task(self._process(message), name=f"dfx-queue-{message.message_id}")
                        self.running.add(task)
                        task.add_done_callback(self._finished)
                    continue
                empty_polls += 1
                await self._sleep(self._backoff(empty_polls))
        finally:
            if self.running:
                await asyncio.wait(self.running, timeout=5)

    def _backoff(self, empty_polls: int) -> float:
        grown = MIN_POLL + random.uniform(0.8, 1.2) * (2 ** min(empty_polls - 1, 20)) * MIN_POLL
        return min(grown, self.options.max_polling_interval)

    async def _sleep(self, seconds: float) -> None:
        stop = asyncio.create_task(self.stopping.wait())
        wake = asyncio.create_task(self.wakeup.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()
            self.wakeup.clear()

    async def _wait_for_room(self) -> None:
        while len(self.running) > self.options.new_batch_threshold and not self.stopping.is_set():
            self._room.clear()
            await self._room.wait()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("Handling a message of %s failed", self.queue, exc_info=task.exception())

    async def _process(self, message: QueueMessage) -> None:
        limit = self.options.max_dequeue_count
        if message.dequeue_count > limit:
            await self._poison(message)
            return
        renewer = asyncio.create_task(self._keep_hidden(message))
        try:
            body, data_type = message_body(message.text, self.options.message_encoding)
            reason = f"New queue message detected on '{self.queue}'."
            ok = await self.fire(self.function, body, reason, data_type=data_type, metadata=message_metadata(message))
        except Exception as exc:  # the trigger data could not be built: a failed try, not a message hidden 10 min
            log.error("Running %s for message %s failed: %s: %s", self.function.name, message.message_id,
                      type(exc).__name__, exc)  # fmt: skip
            ok = False
        finally:
            renewer.cancel()
        if ok:
            await self.queues.delete(self.queue, message)
        elif message.dequeue_count >= limit:
            await self._poison(message)
        else:
            await self.queues.release(self.queue, message, round(self.options.visibility_timeout))

    async def _poison(self, message: QueueMessage) -> None:
        target = await self.queues.poison(self.queue, message.text)
        await self.queues.delete(self.queue, message)
        log.warning("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                    self.options.max_dequeue_count, target)  # fmt: skip

    async def _keep_hidden(self, message: QueueMessage) -> None:
        while True:
            await asyncio.sleep(RECEIVE_VISIBILITY / 2)
            receipt = await self.queues.renew(self.queue, message, RECEIVE_VISIBILITY)
            if receipt is None:
                return
            message.pop_receipt = receipt
