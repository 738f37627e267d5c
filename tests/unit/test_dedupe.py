"""Which client start messages run: the Instances row names the winning execution."""

from __future__ import annotations

import pytest

from dfx.emulator import failpoints
from dfx.emulator.durable.dedupe import MAX_START_ATTEMPTS, StartVerdict, start_verdict


def test_a_start_runs_when_the_row_names_its_execution_or_none():
    assert start_verdict("e1", 0, 1, "e1", 0) is StartVerdict.RUN
    assert start_verdict("e1", 0, 1, "", 0) is StartVerdict.RUN


def test_a_start_whose_row_names_another_execution_of_its_generation_lost():
    assert start_verdict("e2", 0, 1, "e1", 0) is StartVerdict.DROP
    assert start_verdict("e2", 1, 1, "e1", 3) is StartVerdict.DROP


def test_a_start_waits_for_its_row_and_gives_up_after_ten_tries():
    assert start_verdict("e2", 1, 1, "e1", 0) is StartVerdict.WAIT  # the restart's row is not written yet
    assert start_verdict("e1", 0, 1, None, None) is StartVerdict.WAIT
    assert start_verdict("e1", 0, MAX_START_ATTEMPTS, None, None) is StartVerdict.DROP


def test_failpoints_are_read_as_name_equals_exit_with_an_optional_pass_number():
    assert failpoints._parse("a=exit; b=exit:3;") == {"a": 1, "b": 3}
    assert failpoints._parse("") == {}
    with pytest.raises(ValueError, match="NAME=exit"):
        failpoints._parse("a=crash")


def test_a_replacing_start_runs_when_the_row_has_its_created_time_though_an_older_checkpoint_wrote_its_id_back():
    from datetime import datetime, timezone

    created = datetime(2026, 12, 4, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert start_verdict("e2", 1, 1, "e1", 1, created=created, row_created=created) is StartVerdict.RUN
    assert start_verdict("e2", 1, 1, "e1", 1, created=created, row_created=None) is StartVerdict.DROP
