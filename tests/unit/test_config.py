"""Settings from host.json, local.settings.json and the environment."""

import json

import pytest

from dfx.emulator.config import ConfigError, NoAppError, load_settings, require_app_script, require_project_root
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


def test_host_json_durable_options_and_route_prefix(tmp_path):
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {
        "http": {"routePrefix": "/v1/"},
        "durableTask": {"maxConcurrentActivityFunctions": 3, "storageProvider": {
            "maxQueuePollingInterval": "00:00:05", "controlQueueBatchSize": 8}}}})  # fmt: skip
    settings = load_settings(tmp_path, environ={})
    assert settings.route_prefix == "v1"
    assert settings.durable.max_queue_polling_interval == 5.0
    assert settings.durable.control_queue_batch_size == 8
    assert settings.durable.max_concurrent_activity_functions == 3


def test_other_storage_providers_get_a_notice_and_azure_storage_is_used(tmp_path):
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {"durableTask": {
        "storageProvider": {"type": "azureManaged"}}}})  # fmt: skip
    settings = load_settings(tmp_path, environ={})
    assert any("'azureManaged' is not supported" in n for n in settings.notices)


def test_local_settings_host_section_sets_port_and_cors_unless_flags_do(tmp_path):
    write(tmp_path, "local.settings.json", {"Values": {}, "Host": {"LocalHttpPort": 7099, "CORS": "http://a,http://b"}})
    settings = load_settings(tmp_path, environ={})
    assert settings.port == 7099 and settings.cors == ("http://a", "http://b")
    assert load_settings(tmp_path, environ={}, port=8000, cors="*").cors == ("*",)


def test_values_already_in_the_environment_are_skipped_with_core_tools_words(tmp_path):
    write(tmp_path, "local.settings.json", {"Values": {"A": "file", "B": "file"}})
    settings = load_settings(tmp_path, environ={"A": "env"})
    assert settings.environment_updates == {"B": "file"} and settings.values["A"] == "env"
    assert "Skipping 'A' from local settings as it's already defined in current environment variables." in (
        settings.notices
    )


@pytest.mark.parametrize(
    ("host", "fragment"),
    [
        ({"version": "1.0"}, "version '1.0' is not supported"),
        (
            {"version": "2.0", "extensions": {"durableTask": {"storageProvider": {"maxQueuePollingInterval": "soon"}}}},
            "time span",
        ),
        ({"version": "2.0", "extensions": {"durableTask": {"maxConcurrentActivityFunctions": 0}}}, "at least 1"),
        ({"version": "2.0", "extensions": {"http": {"routePrefix": 5}}}, "routePrefix must be a string"),
    ],
)
def test_bad_host_json_values_name_the_setting(tmp_path, host, fragment):
    write(tmp_path, "host.json", host)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(tmp_path, environ={})


def test_a_broken_local_settings_names_file_and_line(tmp_path):
    text = '{\n  "Values": {\n    "A": "1",\n  }\n}'
    write(tmp_path, "local.settings.json", text)
    with pytest.raises(json.JSONDecodeError) as parsed:  # 3.13 points at the trailing comma, 3.10-3.12 after it
        json.loads(text)
    with pytest.raises(ConfigError, match=rf"local\.settings\.json:{parsed.value.lineno}:{parsed.value.colno}:"):
        load_settings(tmp_path, environ={})


def test_default_version_comes_from_host_json(tmp_path):
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {"durableTask": {"defaultVersion": "1.5"}}})
    assert load_settings(tmp_path, environ={}).durable.default_version == "1.5"


def test_overridable_existing_instance_states(tmp_path):
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {"durableTask": {
        "overridableExistingInstanceStates": "AnyState"}}})  # fmt: skip
    assert load_settings(tmp_path, environ={}).durable.overridable_existing_instance_states == "AnyState"
    write(tmp_path, "host.json", {"version": "2.0", "extensions": {"durableTask": {
        "overridableExistingInstanceStates": "Sometimes"}}})  # fmt: skip
    with pytest.raises(ConfigError, match="NonRunningStates or AnyState"):
        load_settings(tmp_path, environ={})


def test_an_app_folder_needs_host_json_and_the_script_it_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoAppError, match=r"Unable to find project root: .* has no host\.json") as info:
        require_project_root(".")
    assert info.value.hint is not None and info.value.hint.endswith("create an app with: dfx init")
    with pytest.raises(NoAppError) as info:
        require_project_root("my app")
    assert (
        "does not exist" in info.value.message
        and info.value.hint == "Create a function app there with: dfx init 'my app'"
    )
    write(tmp_path, "host.json", {"version": "2.0"})
    require_project_root(tmp_path)
    with pytest.raises(NoAppError, match=r"has a host\.json but no function_app\.py"):
        require_app_script(load_settings(tmp_path, environ={}))
    write(tmp_path, "main.py", "")
    require_app_script(load_settings(tmp_path, environ={"PYTHON_SCRIPT_FILE_NAME": "main.py"}))
    write(tmp_path, "local.settings.json", {"Values": {"PYTHON_SCRIPT_FILE_NAME": "app.py"}})
    with pytest.raises(NoAppError, match=r"no app\.py \(PYTHON_SCRIPT_FILE_NAME\)"):
        require_app_script(load_settings(tmp_path, environ={}))
