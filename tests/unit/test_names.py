"""Task hub resource names and the hub-name rule (storage-layout §1)."""

import pytest

from dfx.emulator.storage.errors import InvalidPartitionCountError, TaskHubNameError
from dfx.emulator.storage.names import TaskHubNames, sanitize_hub_name, validate_hub_name


def test_resource_names_follow_the_provider():
    names = TaskHubNames("TestHubName", 4)
    assert names.history_table == "TestHubNameHistory"
    assert names.instances_table == "TestHubNameInstances"
    assert names.partitions_table == "TestHubNamePartitions"
    assert names.control_queues == [f"testhubname-control-0{i}" for i in range(4)]
    assert names.work_item_queue == "testhubname-workitems"
    assert names.large_messages_container == "testhubname-largemessages"
    assert names.app_lease_container == "testhubname-applease"
    assert names.app_lease_info_blob == "testhubname-appleaseinfo"
    assert TaskHubNames("Hub", 16).control_queue(15) == "hub-control-15"


def test_control_queue_for_routes_by_fnv():
    assert TaskHubNames("Hub", 4).control_queue_for("abc") == "hub-control-03"


@pytest.mark.parametrize("name", ["abc", "A12", "MyHub2024", "a" * 45])
def test_valid_hub_names_pass(name):
    assert validate_hub_name(name) == name


@pytest.mark.parametrize("name", ["ab", "1abc", "my-hub", "my_hub", "a" * 46, "", "hub name", "Hübsch"])
def test_invalid_hub_names_name_the_rule(name):
    with pytest.raises(TaskHubNameError, match="only letters and digits, start with a letter, and be 3 to 45"):
        validate_hub_name(name)


@pytest.mark.parametrize("count", [0, 17, -1])
def test_partition_count_outside_1_to_16_is_refused(count):
    with pytest.raises(InvalidPartitionCountError, match="1 to 16"):
        TaskHubNames("Hub", count)


def test_site_names_are_sanitized_like_the_extension_does():
    assert sanitize_hub_name("my-func-app") == "myfuncapp"
    assert sanitize_hub_name("9lives") == "t9lives"
    assert sanitize_hub_name("a") == "aHub"
    assert sanitize_hub_name("---") == "DefaultTaskHub"
    assert len(sanitize_hub_name("x" * 80)) == 45
