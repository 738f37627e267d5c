"""The names of every table, queue and container of a task hub, and the hub-name rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dfx.emulator.storage.errors import InvalidPartitionCountError, TaskHubNameError
from dfx.emulator.storage.keys import partition_index

MIN_HUB_NAME_LENGTH = 3
MAX_HUB_NAME_LENGTH = 45
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_PARTITION_COUNT = 4
MAX_PARTITION_COUNT = 16

_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def validate_hub_name(name: str) -> str:
    """Return ``name`` if it is a valid task hub name, else raise TaskHubNameError naming the rule."""
    if not _HUB_NAME.fullmatch(name) or not MIN_HUB_NAME_LENGTH <= len(name) <= MAX_HUB_NAME_LENGTH:
        raise TaskHubNameError(
            f"Task hub name {name!r} is invalid: task hub names must contain only letters and digits, "
            f"start with a letter, and be {MIN_HUB_NAME_LENGTH} to {MAX_HUB_NAME_LENGTH} characters long."
        )
    return name


def sanitize_hub_name(raw: str) -> str:
    """Derive a valid hub name from a site name the way the extension does for its default."""
    kept = "".join(c for c in raw if c.isascii() and c.isalnum())
    if not kept:
        return "DefaultTaskHub"
    if kept[0].isdigit():
        kept = "t" + kept
    kept = kept[:MAX_HUB_NAME_LENGTH]
    if len(kept) < MIN_HUB_NAME_LENGTH:
        kept += "Hub"
    return kept


@dataclass(frozen=True)
class TaskHubNames:
    """Resource names derived from a hub name (storage-layout §1)."""

    hub: str
    partition_count: int = DEFAULT_PARTITION_COUNT

    def __post_init__(self) -> None:
        validate_hub_name(self.hub)
        if not 1 <= self.partition_count <= MAX_PARTITION_COUNT:
            raise InvalidPartitionCountError(
                f"Partition count {self.partition_count} is out of range: it must be 1 to {MAX_PARTITION_COUNT}."
            )

    @property
    def lower(self) -> str:
        return self.hub.lower()

    @property
    def history_table(self) -> str:
        return f"{self.hub}History"

    @property
    def instances_table(self) -> str:
        return f"{self.hub}Instances"

    @property
    def partitions_table(self) -> str:
        return f"{self.hub}Partitions"

    @property
    def work_item_queue(self) -> str:
        return f"{self.lower}-workitems"

    @property
    def large_messages_container(self) -> str:
        return f"{self.lower}-largemessages"

    @property
    def app_lease_container(self) -> str:
        return f"{self.lower}-applease"

    @property
    def app_lease_info_blob(self) -> str:
        return f"{self.lower}-appleaseinfo"

    def control_queue(self, index: int) -> str:
        return f"{self.lower}-control-{index:02d}"

    @property
    def control_queues(self) -> list[str]:
        return [self.control_queue(i) for i in range(self.partition_count)]

    def control_queue_for(self, instance_id: str) -> str:
        """The control queue that holds the messages of ``instance_id``."""
        return self.control_queue(partition_index(instance_id, self.partition_count))
