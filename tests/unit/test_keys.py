"""PartitionKey escaping, RowKeys and partition routing (storage-layout §2.1, §3.1, §6.1)."""

import pytest

from dfx.emulator.durable.client import ClientError, validate_instance_id
from dfx.emulator.storage.keys import (
    MAX_KEY_UNITS,
    escape_partition_key,
    fnv1a32,
    history_row_key,
    key_units,
    partition_index,
    partition_key_units,
    unescape_partition_key,
)


def test_escaping_replaces_every_forbidden_character():
    assert escape_partition_key("a/b\\c#d?e") == "a^0b^1c^2d^3e"
    assert escape_partition_key("x^y") == "x^^y"


def test_control_characters_escape_to_caret_plus_offset_character():
    assert escape_partition_key("a\x01b") == "a^\u00c1b"
    assert escape_partition_key("\x00") == "^\u00c0"
    assert escape_partition_key("\x7f\x9f") == "^\u013f^\u015f"


@pytest.mark.parametrize(
    "instance_id", ["plain", "a/b\\c#d?e", "^^", "tab\there", "\x00\x1f\x7f\x9f", "@counter@k1", "é/ü", ""]
)
def test_unescape_is_the_inverse_of_escape(instance_id):
    assert unescape_partition_key(escape_partition_key(instance_id)) == instance_id


def test_unescape_keeps_unknown_escapes_below_offset():
    assert unescape_partition_key("^x") == "x"


def test_row_keys_are_sixteen_upper_case_hex_digits():
    assert history_row_key(0) == "0000000000000000"
    assert history_row_key(10) == "000000000000000A"
    assert history_row_key(255) == "00000000000000FF"


@pytest.mark.parametrize(
    ("text", "digest", "index"),
    [
        ("abc", 0x1A47E90B, 3),
        ("a", 0xE40C292C, 0),
        ("myinstance", 0xC06A6290, 0),
        ("@counter@key1", 0x9A41B811, 1),
        ("", 0x811C9DC5, 1),
    ],
)
def test_fnv1a_matches_the_spec_vectors(text, digest, index):
    assert fnv1a32(text.encode()) == digest
    assert partition_index(text, 4) == index


def test_key_sizes_count_utf16_code_units_of_the_escaped_key():
    assert key_units("abc") == 3 and key_units("\u20ac") == 1 and key_units("\U0001f600") == 2
    assert partition_key_units("a^b/c") == 7  # a ^^ b ^0 c
    assert partition_key_units("\x01") == 2


@pytest.mark.parametrize("char", ["a", "^", "\U0001f600", "\u20ac"])
def test_the_longest_orchestration_instance_id_fits_a_partition_key(char):
    """Instance ids are refused above 256 characters, and escaping at most doubles one: 512 units fit."""
    longest = char * 256
    validate_instance_id(longest)
    assert partition_key_units(longest) <= MAX_KEY_UNITS
    with pytest.raises(ClientError, match="256 characters"):
        validate_instance_id(char * 257)
