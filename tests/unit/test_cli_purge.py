"""The purge filter of ``dfx durable purge-history`` and the shared time/status option parsers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import typer

from dfx.cli.console import parse_statuses, parse_time
from dfx.cli.purge import EARLIEST, PurgeFilter, instances_phrase, preview
from dfx.model.history import TERMINAL_STATUSES, OrchestrationStatus

JAN = datetime(2026, 1, 1, tzinfo=timezone.utc)
FEB = datetime(2026, 2, 1, tzinfo=timezone.utc)


def test_no_statuses_means_every_finished_status_and_no_lower_bound_means_the_table_minimum():
    purge = PurgeFilter.build(None, None, frozenset())
    assert purge.statuses == TERMINAL_STATUSES
    assert purge.created_from == EARLIEST and purge.created_before is None


def test_a_status_that_is_not_finished_is_refused_instead_of_dropped():
    with pytest.raises(
        typer.BadParameter,
        match="Running and Pending instances cannot be purged, only Completed, Terminated, Canceled or Failed ones",
    ):
        PurgeFilter.build(None, None, frozenset({OrchestrationStatus.Completed, OrchestrationStatus.Running,
                                                 OrchestrationStatus.Pending}))  # fmt: skip


def test_an_empty_time_range_is_refused():
    with pytest.raises(typer.BadParameter, match="later than --created-before"):
        PurgeFilter.build(FEB, JAN, frozenset())


def test_the_filter_reads_as_words():
    purge = PurgeFilter.build(JAN, FEB, frozenset({OrchestrationStatus.Failed, OrchestrationStatus.Completed}))
    words = "Completed or Failed, created at or after 2026-01-01T00:00:00Z, created at or before 2026-02-01T00:00:00Z"
    assert purge.describe() == words
    assert PurgeFilter.build(None, None, frozenset()).describe() == "Completed, Terminated, Canceled or Failed"
    only = PurgeFilter.build(None, None, frozenset({OrchestrationStatus.Terminated}))
    assert only.describe() == "Terminated"


def test_the_preview_lists_ten_ids_and_counts_the_rest():
    ids = [f"i{n}" for n in range(13)]
    lines = preview(ids)
    assert lines[:2] == ["  i0", "  i1"] and len(lines) == 11 and lines[-1] == "  … and 3 more"
    assert preview(ids[:2]) == ["  i0", "  i1"]
    assert (instances_phrase(1), instances_phrase(0), instances_phrase(2)) == ("1 instance", "0 instances",
                                                                               "2 instances")  # fmt: skip


def test_times_are_iso_8601_with_utc_as_the_default_zone():
    assert parse_time(None, "--created-after") is None
    assert parse_time("2026-01-01T00:00:00Z", "--x") == JAN
    assert parse_time("2026-01-01T02:00:00+02:00", "--x") == JAN
    assert parse_time("2026-01-01T00:00:00", "--x") == JAN
    with pytest.raises(typer.BadParameter, match="not an ISO-8601 time"):
        parse_time("yesterday", "--created-after")


def test_statuses_are_case_insensitive_and_may_be_comma_or_space_separated():
    assert parse_statuses(None) == frozenset()
    assert parse_statuses(["completed,FAILED", "Terminated Canceled"]) == TERMINAL_STATUSES
    with pytest.raises(typer.BadParameter, match="unknown status 'Done'"):
        parse_statuses(["Done"])
