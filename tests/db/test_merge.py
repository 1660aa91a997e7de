"""`merge.merge_calls`: which reports of a trace are one API call, and what the merged row holds."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tokentrail.db.merge import merge_calls
from tokentrail.db.rows import LlmCallRow

T0 = datetime(2026, 11, 22, 10, tzinfo=timezone.utc)
TRACE = "ab" * 16


def report(span_id: str, source: str, parent: str | None = None, *, at: float = 0.0, **values: Any) -> LlmCallRow:
    row: dict[str, Any] = dict.fromkeys(LlmCallRow._fields)
    row.update(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        start_time=T0 + timedelta(milliseconds=at),
        duration_ms=200.0,
        source=source,
        operation="chat",
        status="ok",
        content_truncated=False,
        attributes="{}",
        sources=[source],
        request_model="claude-sonnet-4-5",
    )
    row.update(values)
    return LlmCallRow(**row)


def test_a_peer_span_and_the_sdk_span_inside_it_are_one_call() -> None:
    peer = report("p1", "openllmetry", "root", input_tokens=9, input_sha256=b"in", attributes='{"a": 1, "b": 1}')
    sdk = report(
        "s1",
        "anthropic-sdk",
        "p1",
        at=1,
        input_tokens=10,
        output_tokens=5,
        cost_usd=Decimal("0.01"),
        cost_source="sink:genai-prices",
        attributes='{"b": 2}',
    )
    (call,) = merge_calls([peer, sdk], {})
    assert (call.span_id, call.source, call.parent_span_id) == ("s1", "anthropic-sdk", "p1")
    assert call.sources == ["anthropic-sdk", "openllmetry"]
    assert call.member_span_ids == ["s1", "p1"]
    # tokens and cost together from the most trusted report with tokens; never summed
    assert (call.input_tokens, call.output_tokens, call.cost_usd) == (10, 5, Decimal("0.01"))
    assert call.input_sha256 == b"in"  # what only the peer had
    assert json.loads(call.attributes) == {"a": 1, "b": 2}


def test_ancestry_through_a_span_that_is_not_a_call() -> None:
    peer = report("p1", "otel-genai", "root")
    sdk = report("s1", "anthropic-sdk", "http", at=1)
    assert len(merge_calls([peer, sdk], {"http": "p1"})) == 1
    assert len(merge_calls([peer, sdk], {})) == 2  # unrelated without the link


def test_different_response_ids_models_operations_or_times_are_different_calls() -> None:
    peer = report("p1", "openllmetry", response_id="msg_1")
    assert len(merge_calls([peer, report("s1", "anthropic-sdk", "p1", response_id="msg_2")], {})) == 2
    assert len(merge_calls([peer, report("s1", "anthropic-sdk", "p1", request_model="claude-haiku-4-5")], {})) == 2
    assert len(merge_calls([peer, report("s1", "anthropic-sdk", "p1", operation="count_tokens")], {})) == 2
    assert len(merge_calls([peer, report("s1", "anthropic-sdk", "p1", at=5000)], {})) == 2
    assert len(merge_calls([peer, report("s1", "anthropic-sdk", "p1", response_id="msg_1")], {})) == 1


def test_a_shared_response_id_joins_reports_that_are_not_nested() -> None:
    peer = report("p1", "openinference", "root", response_id="msg_1")
    sdk = report("s1", "anthropic-sdk", "root", at=1, response_id="msg_1")
    assert len(merge_calls([peer, sdk], {})) == 1


def test_one_report_per_source_and_the_closest_wins() -> None:
    """A peer span around two SDK spans (a nested call): the one with the same response id joins it."""
    peer = report("p1", "openllmetry", "root", response_id="msg_2")
    first = report("s1", "anthropic-sdk", "p1", at=1)
    second = report("s2", "anthropic-sdk", "p1", at=100, response_id="msg_2")
    calls = merge_calls([peer, first, second], {})
    assert sorted(c.member_span_ids or [c.span_id] for c in calls) == [["s1"], ["s2", "p1"]]


def test_same_source_never_merges_and_single_rows_come_back_as_they_were() -> None:
    outer = report("t1", "tokentrail", "root")
    inner = report("t2", "tokentrail", "t1", at=1)
    calls = merge_calls([outer, inner], {})
    assert calls == [outer, inner]
    assert all(c.member_span_ids is None for c in calls)


def test_the_result_does_not_depend_on_the_order_of_the_reports() -> None:
    reports = [
        report("p1", "openllmetry", "root", input_tokens=1),
        report("s1", "anthropic-sdk", "p1", at=1, input_tokens=2, status="error", error_type="overloaded_error"),
        report("o1", "otel-genai", "s1", at=2, input_tokens=3),
        report("p2", "openllmetry", "root", at=300, response_id="msg_b"),
        report("s2", "anthropic-sdk", "p2", at=301, response_id="msg_b"),
        report("p3", "openllmetry", "root", at=300.5),
    ]
    expected = merge_calls(reports, {})
    assert len(expected) == 3
    assert expected[0].sources == ["anthropic-sdk", "otel-genai", "openllmetry"]
    assert (expected[0].status, expected[0].error_type, expected[0].input_tokens) == ("error", "overloaded_error", 2)
    for order in itertools.permutations(reports):
        assert merge_calls(list(order), {}) == expected


def test_a_peer_that_does_not_make_its_span_current_has_the_sdk_span_as_its_sibling() -> None:
    """OpenLLMetry's span of a failed call is not current while the SDK runs: both spans have the app's parent."""
    peer = report("p1", "openllmetry", "root", error_type="OverloadedError", status="error", duration_ms=40.0)
    sdk = report("s1", "anthropic-sdk", "root", at=2, error_type="overloaded_error", status="error", duration_ms=36.0)
    (call,) = merge_calls([peer, sdk], {})
    assert call.error_type == "overloaded_error"
    assert call.sources == ["anthropic-sdk", "openllmetry"]
    # two such calls side by side pair by time, not crosswise
    peer2 = report("p2", "openllmetry", "root", at=100, status="error", duration_ms=40.0)
    sdk2 = report("s2", "anthropic-sdk", "root", at=101, status="error", duration_ms=38.0)
    calls = merge_calls([sdk2, peer, peer2, sdk], {})
    assert sorted(c.member_span_ids or [] for c in calls) == [["s1", "p1"], ["s2", "p2"]]
    # a sibling that runs past the other's end is another call
    later = report("s3", "anthropic-sdk", "root", at=30, duration_ms=2000.0)
    assert len(merge_calls([peer, later], {})) == 2


def test_read_side_facts_come_from_the_report_that_has_them() -> None:
    peer = report("p1", "openllmetry", "root", tool_names=["search"], tool_call_ids=["toolu_9"])
    ours = report("t1", "tokentrail", "p1", at=1, call_type="rag_query", attempts=2)
    (call,) = merge_calls([peer, ours], {})
    assert (call.source, call.call_type, call.attempts) == ("tokentrail", "rag_query", 2)
    assert (call.tool_names, call.tool_call_ids) == (["search"], ["toolu_9"])
    both = report("t1", "tokentrail", "p1", at=1, tool_names=["get_weather"], tool_call_ids=["toolu_1"])
    (call,) = merge_calls([peer, both], {})
    assert (call.tool_names, call.tool_call_ids) == (["get_weather"], ["toolu_1"])
