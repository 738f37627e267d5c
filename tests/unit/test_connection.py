"""Connection strings: development storage, custom Azurite ports and real accounts."""

import pytest

from dfx.emulator.storage.connection import DEV_ACCOUNT_KEY, parse_connection_string
from dfx.emulator.storage.errors import ConnectionStringError


def test_development_storage_means_azurite_on_default_ports():
    account = parse_connection_string("UseDevelopmentStorage=true")
    assert account.account_name == "devstoreaccount1"
    assert account.account_key == DEV_ACCOUNT_KEY
    assert account.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert account.queue_endpoint == "http://127.0.0.1:10001/devstoreaccount1"
    assert account.table_endpoint == "http://127.0.0.1:10002/devstoreaccount1"
    assert account.is_local


def test_explicit_azurite_string_with_custom_ports():
    text = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + DEV_ACCOUNT_KEY + ";"
        "BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:20001/devstoreaccount1;"
        "TableEndpoint=http://localhost:20002/devstoreaccount1/;"
    )
    account = parse_connection_string(text)
    assert account.port("blob") == 20000
    assert account.port("table") == 20002
    assert account.table_endpoint == "http://localhost:20002/devstoreaccount1"
    assert account.is_local
    assert parse_connection_string(account.connection_string()) == account


def test_real_account_string_builds_endpoints_from_suffix():
    account = parse_connection_string(
        "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
    )
    assert account.blob_endpoint == "https://myacct.blob.core.windows.net"
    assert account.queue_endpoint == "https://myacct.queue.core.windows.net"
    assert account.table_endpoint == "https://myacct.table.core.windows.net"
    assert not account.is_local
    assert "a2V5" not in account.describe()


def test_keys_are_case_insensitive():
    account = parse_connection_string("accountname=x;accountkey=eQ==")
    assert account.table_endpoint == "https://x.table.core.windows.net"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("AccountName=x", "AccountKey or a SharedAccessSignature"),
        ("AccountKey=eQ==", "AccountName is missing"),
        ("AccountName=x;AccountKey=y;Bogus=1", "unknown key 'Bogus'"),
        ("garbage", "not a 'Key=Value' pair"),
        ("UseDevelopmentStorage=false", "must be 'true'"),
        ("AccountName=x;AccountKey=eQ==;TableEndpoint=ftp://h", "not an http(s) URL"),
        ("DefaultEndpointsProtocol=tcp;AccountName=x;AccountKey=eQ==", "http or https"),
        ("AccountName=x;AccountKey=y", "AccountKey is not valid base64"),
        ("AccountName=x;AccountKey=<paste the key here>", "AccountKey is not valid base64"),
        ("AccountName=x;AccountKey=" + DEV_ACCOUNT_KEY[:-3], "AccountKey is not valid base64"),
    ],
)
def test_malformed_strings_get_one_clear_error(text, fragment):
    with pytest.raises(ConnectionStringError) as info:
        parse_connection_string(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
