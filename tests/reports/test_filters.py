"""tokentrail.reports.filters: the filter values people type, shared by the CLI and the UI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tokentrail.reports import filters

UTC = timezone.utc


def test_parse_duration_and_moment() -> None:
    assert filters.parse_duration("7d") == timedelta(days=7)
    assert filters.parse_duration("1h30m") == timedelta(minutes=90)
    assert filters.parse_duration("1500ms") == timedelta(seconds=1.5)
    assert filters.parse_duration("2w") == timedelta(days=14)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert filters.parse_moment("12h", now) == datetime(2026, 11, 20, 0, tzinfo=UTC)
    assert filters.parse_moment("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert filters.parse_moment("2026-11-01T10:00", now) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert filters.parse_moment("2026-11-01T10:00:00Z", now) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert filters.parse_moment("2026-11-01T12:00:00+02:00", now) == datetime(2026, 11, 1, 10, tzinfo=UTC)
    for bad in ("", "7", "d", "7x", "banana", "-3d"):
        with pytest.raises(ValueError, match="duration"):
            filters.parse_duration(bad)
    with pytest.raises(ValueError, match="ISO"):
        filters.parse_moment("2026-13-01", now)


def test_bounded_values() -> None:
    assert filters.parse_positive_duration("500ms") == timedelta(milliseconds=500)
    assert filters.parse_retention("90d") == timedelta(days=90)
    assert filters.parse_money("$0.05") == Decimal("0.05")
    assert filters.parse_count("3") == 3
    assert filters.parse_trace_id(" 4BF92F3577B34DA6A3CE929D0E0E4736 ") == "4bf92f3577b34da6a3ce929d0e0e4736"
    for parse, bad in [
        (filters.parse_positive_duration, "0s"),
        (filters.parse_retention, "12h"),
        (filters.parse_money, "-1"),
        (filters.parse_money, "NaN"),
        (filters.parse_money, "cheap"),
        (filters.parse_count, "0"),
        (filters.parse_count, "1.5"),
        (filters.parse_trace_id, "0" * 32),
        (filters.parse_trace_id, "4bf92f35"),
    ]:
        with pytest.raises(ValueError, match=repr(bad)):
            parse(bad)


def test_check_range() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    filters.check_range(start, None)
    filters.check_range(None, None)
    with pytest.raises(ValueError, match="timezone-aware"):
        filters.check_range(datetime(2026, 11, 1), None)
    with pytest.raises(ValueError, match="later"):
        filters.check_range(start, start)


def test_the_read_layers_values() -> None:
    assert filters.parse_attr("tenant_id=acme") == ("tenant_id", "acme")
    assert filters.parse_attr('tokentrail.app.customer={"id":1}') == ("customer", '{"id":1}')
    assert filters.parse_attr("plan=") == ("plan", "")
    assert filters.parse_grouping("attr:tokentrail.app.tenant_id") == "attr:tenant_id"
    assert filters.parse_grouping("call-type") == "call-type"
    assert filters.parse_prompt_text(" support@v2 ") == "support@v2"
    assert (filters.parse_limit("10000"), filters.parse_offset("0"), filters.parse_offset("20")) == (10000, 0, 20)
    assert filters.parse_text(" req-42") == " req-42"
    for parse, bad, says in [
        (filters.parse_attr, "tenant_id", "KEY=VALUE"),
        (filters.parse_attr, "bad key=1", "attribute key"),
        (filters.parse_grouping, "price", "cannot group by"),
        (filters.parse_prompt_text, "@v2", "not a prompt"),
        (filters.parse_limit, "10001", "maximum of 10000"),
        (filters.parse_offset, "-1", "must not be negative"),
        (filters.parse_offset, "x", "not a whole number"),
        (filters.parse_text, "  ", "must not be empty"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse(bad)
