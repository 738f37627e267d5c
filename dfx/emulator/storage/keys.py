"""Pure key functions of the task hub layout: PartitionKey escaping, RowKeys and partition routing."""

from __future__ import annotations

_ESCAPE = "^"
_SPECIAL = {"^": "^^", "/": "^0", "\\": "^1", "#": "^2", "?": "^3"}
_UNSPECIAL = {"^": "^", "0": "/", "1": "\\", "2": "#", "3": "?"}
_CONTROL_OFFSET = 0xC0

SENTINEL_ROW_KEY = "sentinel"
#: A PartitionKey or RowKey holds at most 1 KiB of UTF-16: 512 code units. Azurite answers a longer one with
#: 400 InvalidInput on every write (insert, upsert, merge, batch) while reads simply find nothing.
MAX_KEY_UNITS = 512

FNV_OFFSET_BASIS = 2166136261
FNV_PRIME = 16777619


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code <= 0x1F or 0x7F <= code <= 0x9F


def escape_partition_key(instance_id: str) -> str:
    """Return the PartitionKey that stores ``instance_id`` (storage-layout §2.1)."""
    if not any(c in _SPECIAL or _is_control(c) for c in instance_id):
        return instance_id
    out: list[str] = []
    for ch in instance_id:
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif _is_control(ch):
            out.append(_ESCAPE + chr(_CONTROL_OFFSET + ord(ch)))
        else:
            out.append(ch)
    return "".join(out)


def key_units(key: str) -> int:
    """The size of a table key in UTF-16 code units (a character beyond U+FFFF takes two)."""
    return len(key) + sum(1 for ch in key if ord(ch) > 0xFFFF)


def partition_key_units(instance_id: str) -> int:
    """The size of the PartitionKey that stores ``instance_id``, in UTF-16 code units (see MAX_KEY_UNITS).

    Escaping at most doubles a character, so an id of up to MAX_KEY_UNITS // 2 characters always fits.
    """
    return key_units(escape_partition_key(instance_id))


def unescape_partition_key(key: str) -> str:
    """Return the instance id stored under PartitionKey ``key``; the inverse of escape_partition_key."""
    if _ESCAPE not in key:
        return key
    out: list[str] = []
    chars = iter(key)
    for ch in chars:
        if ch != _ESCAPE:
            out.append(ch)
            continue
        nxt = next(chars, None)
        if nxt is None:
            out.append(ch)
        elif nxt in _UNSPECIAL:
            out.append(_UNSPECIAL[nxt])
        elif ord(nxt) < _CONTROL_OFFSET:
            out.append(nxt)
        else:
            out.append(chr(ord(nxt) - _CONTROL_OFFSET))
    return "".join(out)


def history_row_key(sequence_number: int) -> str:
    """Return the RowKey of the event at ``sequence_number`` in its execution: 16 upper-case hex digits."""
    return f"{sequence_number:016X}"


def fnv1a32(data: bytes) -> int:
    """Return the 32-bit FNV-1a hash of ``data``."""
    h = FNV_OFFSET_BASIS
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def partition_index(instance_id: str, partition_count: int) -> int:
    """Return the control-queue index an instance is routed to (storage-layout §6.1)."""
    return fnv1a32(instance_id.encode("utf-8")) % partition_count
