from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tokentrail.ui import params
from tokentrail.ui.params import BadParameter, TimeRange

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_time_range_presets_and_custom() -> None:
    assert params.time_range({}, NOW) == TimeRange(NOW - timedelta(days=1), NOW, "24h")
    assert params.time_range({"range": "7d"}, NOW).since == NOW - timedelta(days=7)
    custom = params.time_range({"since": "2026-11-01", "until": "2026-11-02T06:00Z"}, NOW)
    assert custom == TimeRange(
        datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 2, 6, tzinfo=timezone.utc), None
    )
    assert params.time_range({"since": "2h"}, NOW).until == NOW
    with pytest.raises(BadParameter, match="range"):
        params.time_range({"range": "2y"}, NOW)
    with pytest.raises(BadParameter, match="since"):
        params.time_range({"since": "last tuesday"}, NOW)
    with pytest.raises(BadParameter, match="until: must be later"):
        params.time_range({"since": "1h", "until": "2h"}, NOW)


def test_buckets_keep_a_series_to_at_most_sixty_points() -> None:
    assert params.time_range({"range": "1h"}, NOW).bucket == timedelta(minutes=1)
    assert params.time_range({"range": "24h"}, NOW).bucket == timedelta(hours=1)
    assert params.time_range({"range": "7d"}, NOW).bucket == timedelta(hours=3)
    assert params.time_range({"range": "30d"}, NOW).bucket == timedelta(days=1)


def test_call_filter_reads_every_field() -> None:
    window = params.time_range({}, NOW)
    query = {
        "status": "error",
        "model": "claude-sonnet-4-5",
        "user": "u1",
        "prompt": "support@v2",
        "retried": "yes",
        "min_cost": "$0.01",
        "min_latency": "2s",
        "trace_id": "AB" * 16,
        "search": "refund",
    }
    where = params.call_filter(query, window, {"attr": ["company_id:acme", "tokentrail.app.plan:pro"]})
    assert (where.status, where.model, where.user, where.prompt) == ("error", "claude-sonnet-4-5", "u1", "support@v2")
    assert where.retried is True
    assert where.min_cost == Decimal("0.01")
    assert where.min_latency_ms == 2000
    assert where.trace_id == "ab" * 16
    assert where.attrs == (("company_id", "acme"), ("plan", "pro"))
    assert (where.since, where.until) == (window.since, window.until)
    assert params.call_filter({"model": "  "}, window).model is None
    assert params.call_filter({}, window, {"attr": ["", " "]}).attrs == ()  # the empty form field


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"status": "bad"}, "status"),
        ({"prompt": "@v1"}, "prompt"),
        ({"attr": "no-colon"}, "attr"),
        ({"attr": "bad key!:x"}, "attr"),
        ({"trace_id": "xyz"}, "trace_id"),
        ({"retried": "maybe"}, "retried"),
        ({"min_latency": "0s"}, "min_latency"),
    ],
)
def test_call_filter_names_the_bad_parameter(query: dict[str, str], name: str) -> None:
    with pytest.raises(BadParameter) as caught:
        params.call_filter(query, params.time_range({}, NOW))
    assert caught.value.name == name


def test_page_grouping_and_sort() -> None:
    where = params.call_filter({}, params.time_range({}, NOW))
    assert (params.page({"page": "3", "size": "25"}, where).offset, params.page({}, where).limit) == (50, 50)
    with pytest.raises(BadParameter, match="size"):
        params.page({"size": "100000"}, where)
    with pytest.raises(BadParameter, match="page"):
        params.page({"page": "0"}, where)
    assert params.grouping({"by": "attr:company_id"}) == "attr:company_id"
    with pytest.raises(BadParameter, match="by"):
        params.grouping({"by": "planet"})
    with pytest.raises(BadParameter, match="by"):
        params.grouping({"by": "day"}, allowed=("model", "user"))
    assert params.sort({"sort": "-cost"}) == "-cost"
    with pytest.raises(BadParameter, match="sort"):
        params.sort({"sort": "name"})
