"""Settings from host.json, local.settings.json and the environment."""

import json

import pytest

from dfx.emulator.config import ConfigError, load_settings
from dfx.emulator.storage.errors import ConnectionStringError, InvalidPartitionCountError, TaskHubNameError


def write(tmp_path, name, data):
    (tmp_path / name).write_text(data if isinstance(data, str) else json.dumps(data))


def test_defaults_are_test_hub_name_and_development_storage(tmp_path):
    settings = load_settings(tmp_path, environ={})
    assert settings.hub_name == "TestHubName"
    assert settings.storage_connection == "UseDevelopmentStorage=true"
    assert settings.partition_count == 4


def test_hub_name_and_partition_count_come_from_host_json(tmp_path):
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {"durableTask": {
        "hubName": "%HUB%", "storageProvider": {"partitionCount": 2}}}})  # fmt: skip
    write(tmp_path, "local.settings.json", {"Values": {"HUB": "FromSettings"}})
    settings = load_settings(tmp_path, environ={})
    assert (settings.hub_name, settings.partition_count) == ("FromSettings", 2)


def test_environment_wins_over_local_settings(tmp_path):
    write(tmp_path, "local.settings.json", {"Values": {"AzureWebJobsStorage": "garbage"}})
    env = {"AzureWebJobsStorage": "AccountName=x;AccountKey=eQ=="}
    assert load_settings(tmp_path, environ=env).storage.account_name == "x"


def test_explicit_options_win(tmp_path):
    settings = load_settings(tmp_path, task_hub="Other", connection="UseDevelopmentStorage=true", environ={})
    assert settings.hub_name == "Other"


def test_a_connection_setting_name_is_looked_up(tmp_path):
    write(tmp_path, "local.settings.json", {"Values": {"MyConn": "AccountName=y;AccountKey=eQ=="}})
    assert load_settings(tmp_path, connection="MyConn", environ={}).storage.account_name == "y"
    with pytest.raises(ConfigError, match="'Missing' is not set"):
        load_settings(tmp_path, connection="Missing", environ={})


def test_broken_host_json_names_file_line_and_problem(tmp_path):
    write(tmp_path, "host.json", '{\n  "version": "2.0",\n  "extensions": {,}\n}')
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert "host.json:3:" in str(info.value) and "invalid JSON" in str(info.value)


def test_broken_values_are_refused_before_storage_is_touched(tmp_path):
    write(tmp_path, "host.json", {"extensions": {"durableTask": {"hubName": "bad-name"}}})
    with pytest.raises(TaskHubNameError):
        load_settings(tmp_path, environ={})
    write(tmp_path, "host.json", {"extensions": {"durableTask": {"storageProvider": {"partitionCount": 32}}}})
    with pytest.raises(InvalidPartitionCountError):
        load_settings(tmp_path, environ={})
    write(tmp_path, "host.json", {})
    with pytest.raises(ConnectionStringError, match="AzureWebJobsStorage"):
        load_settings(tmp_path, environ={"AzureWebJobsStorage": "nonsense"})


def test_an_undefined_setting_reference_is_named(tmp_path):
    write(tmp_path, "host.json", {"extensions": {"durableTask": {"hubName": "%NOPE%"}}})
    with pytest.raises(ConfigError, match="%NOPE%"):
        load_settings(tmp_path, environ={})
