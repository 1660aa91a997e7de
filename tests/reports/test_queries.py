"""tokentrail.reports.queries (stats, calls, compare) against a real, migrated PostgreSQL database.

Rows are written with plain INSERTs (the sink's ingest path has its own tests); every expectation is computed
here in Python from the same rows, independently of the SQL under test.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert, user_messages
from tokentrail import reports
from tokentrail.reports import callfilter, content, export, queries, trace

pytestmark = pytest.mark.postgres

UTC = timezone.utc
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def dataset(seed: int = 7, count: int = 40) -> list[Call]:
    """A deterministic, varied set of calls over the three days before NOW."""
    rng = random.Random(seed)
    errors = ["rate_limit_error", "overloaded_error", "APITimeoutError"]
    tag_sets: list[list[str] | None] = [None, ["rag"], ["rag", "beta"], ["beta"], [], ["rag", "rag"]]
    calls = []
    for i in range(count):
        failed = rng.random() < 0.2
        input_tokens = rng.randrange(50, 5000)
        streaming = rng.random() < 0.5
        calls.append(
            Call(
                start=NOW - timedelta(days=3) + timedelta(minutes=rng.randrange(0, 3 * 24 * 60)),
                duration_ms=float(rng.randrange(80, 9000)),
                model=rng.choice(["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", None]),
                response_model="claude-sonnet-4-5-20250929",
                status="error" if failed else "ok",
                error_type=rng.choice(errors) if failed else None,
                error_message="boom" if failed else None,
                input_tokens=None if failed else input_tokens,
                output_tokens=None if failed else rng.randrange(1, 800),
                cache_read=None if failed else rng.choice([0, 0, input_tokens // 2]),
                cache_write=None if failed else rng.choice([0, 10]),
                cost=None if failed else Decimal(rng.randrange(1, 50000)) / Decimal(10**7),
                ttfc_ms=float(rng.randrange(40, 900)) if streaming and not failed else None,
                user=rng.choice(["alice", "bob", None]),
                session=rng.choice(["s1", "s2", "s3"]),
                service=rng.choice(["api", "worker"]),
                operation=rng.choice(["chat", "chat", "count_tokens"]),
                tags=rng.choice(tag_sets),
                prompt_name=rng.choice(["support", None]),
                prompt_version=rng.choice(["v1", "v2"]),
                input_body=user_messages(f"question {i}"),
                workflow=rng.choice(["answer", "ingest", None]),
                call_type=rng.choice(["rag_query", "rag_synthesis", "summarization", None]),
                tool_names=rng.choice([None, ["search"], ["search", "lookup"], ["lookup", "lookup"]]),
                attempts=rng.choice([None, None, 1, 2, 3]),
                attributes=rng.choice(
                    [{}, {"tokentrail.app.company_id": "comp_1"}, {"tokentrail.app.company_id": "comp_2"}]
                ),
            )
        )
    return calls


# --- independent expectations -----------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Continuous percentile (linear interpolation between closest ranks), as SQL's percentile_cont."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=100, method="inclusive")[round(fraction * 100) - 1]


def expected_stats(calls: Sequence[Call]) -> dict[str, Any]:
    input_tokens = sum(c.input_tokens or 0 for c in calls if c.operation != "count_tokens")
    durations = [c.duration_ms for c in calls]
    ttfc = [c.ttfc_ms for c in calls if c.ttfc_ms is not None]
    errors = sum(c.status == "error" for c in calls)
    return {
        "calls": len(calls),
        "errors": errors,
        "error_rate": pytest.approx(errors / len(calls)),
        "retried": sum((c.attempts or 1) > 1 for c in calls),
        "input_tokens": input_tokens,
        "output_tokens": sum(c.output_tokens or 0 for c in calls),
        "cache_read_tokens": sum(c.cache_read or 0 for c in calls),
        "cache_write_tokens": sum(c.cache_write or 0 for c in calls),
        "cache_hit_ratio": pytest.approx(sum(c.cache_read or 0 for c in calls) / input_tokens)
        if input_tokens
        else None,
        "counted_tokens": sum(c.input_tokens or 0 for c in calls if c.operation == "count_tokens"),
        "cost_usd": sum((c.cost or Decimal(0) for c in calls), Decimal(0)),
        "latency_mean_ms": pytest.approx(statistics.fmean(durations)),
        "latency_p50_ms": pytest.approx(percentile(durations, 0.50)),
        "latency_p95_ms": pytest.approx(percentile(durations, 0.95)),
        "latency_p99_ms": pytest.approx(percentile(durations, 0.99)),
        "ttfc_p50_ms": pytest.approx(percentile(ttfc, 0.50)) if ttfc else None,
        "ttfc_p95_ms": pytest.approx(percentile(ttfc, 0.95)) if ttfc else None,
    }


def actual(row: queries.StatsRow) -> dict[str, Any]:
    values = dict(vars(row))
    values.pop("key")
    return values


GROUP_KEYS: dict[str, Callable[[Call], list[str | None]]] = {
    "day": lambda c: [c.start.date().isoformat()],
    "hour": lambda c: [c.start.strftime("%Y-%m-%dT%H:00")],
    "model": lambda c: [c.key_model],
    "user": lambda c: [c.user],
    "session": lambda c: [c.session],
    "service": lambda c: [c.service],
    "workflow": lambda c: [c.workflow],
    "call-type": lambda c: [c.call_type],
    "operation": lambda c: [c.operation],
    "error-type": lambda c: [c.error_type if c.status == "error" else None],
    "prompt-version": lambda c: [
        f"{c.prompt_name}@{c.prompt_version}" if c.prompt_name else "?@" + str(c.prompt_version)
    ],
    "tag": lambda c: list[str | None](sorted(set(c.tags))) if c.tags else [None],
    "tool": lambda c: list[str | None](sorted(set(c.tool_names))) if c.tool_names else [None],
    "attr:company_id": lambda c: [c.attributes.get("tokentrail.app.company_id")],
}


def newest_first(calls: Sequence[Call]) -> list[Call]:
    """The calls' order in `calls()`: newest first, ties by span id (Python's sort is stable under reverse)."""
    return sorted(sorted(calls, key=lambda c: c.span_id), key=lambda c: c.start, reverse=True)


def window(since: datetime | None = None, until: datetime | None = None, **criteria: Any) -> queries.CallFilter:
    return queries.CallFilter(since=since, until=until, **criteria)


# --- stats ------------------------------------------------------------------------------------------------


def test_stats_overall_matches_independent_computation(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    rows = queries.stats(conn, window(NOW - timedelta(days=7), NOW))
    assert len(rows) == 1
    assert rows[0].key is None
    assert actual(rows[0]) == expected_stats(calls)


def test_every_grouping_is_tested() -> None:
    assert set(GROUP_KEYS) == {*queries.GROUPINGS, "attr:company_id"}


@pytest.mark.parametrize("by", sorted(GROUP_KEYS))
def test_stats_by_each_grouping(conn: psycopg.Connection[Any], by: str) -> None:
    calls = dataset()
    insert(conn, calls)
    groups: dict[str | None, list[Call]] = defaultdict(list)
    for call in calls:
        for key in GROUP_KEYS[by](call):
            groups[key].append(call)
    rows = queries.stats(conn, window(NOW - timedelta(days=7)), by)
    assert {row.key for row in rows} == set(groups)
    for row in rows:
        assert actual(row) == expected_stats(groups[row.key]), row.key
    keys = [row.key for row in rows]
    if by in ("day", "hour"):
        assert keys == sorted(groups, key=str)
    else:
        costs = [row.cost_usd for row in rows]
        assert costs == sorted(costs, reverse=True)


def test_stats_tag_counts_a_call_once_per_distinct_tag(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(NOW - timedelta(hours=1), tags=["rag", "rag", "beta"], cost=Decimal("0.5")),
            Call(NOW - timedelta(hours=2), tags=["rag"], cost=Decimal("0.25")),
            Call(NOW - timedelta(hours=3), tags=None, cost=Decimal("0.125")),
        ],
    )
    rows = queries.stats(conn, window(NOW - timedelta(days=1), NOW), "tag")
    assert [(r.key, r.calls, r.cost_usd) for r in rows] == [
        ("rag", 2, Decimal("0.75")),
        ("beta", 1, Decimal("0.5")),
        (None, 1, Decimal("0.125")),
    ]


def test_stats_range_is_half_open(conn: psycopg.Connection[Any]) -> None:
    since, until = NOW - timedelta(days=1), NOW
    insert(
        conn,
        [
            Call(since, duration_ms=100.0),
            Call(until - timedelta(microseconds=1), duration_ms=200.0),
            Call(until, duration_ms=400.0),
            Call(since - timedelta(microseconds=1), duration_ms=800.0),
        ],
    )
    (row,) = queries.stats(conn, window(since, until))
    assert row.calls == 2
    assert row.latency_p50_ms == pytest.approx(150.0)
    assert row.ttfc_p50_ms is None
    assert queries.stats(conn, window(until + timedelta(days=1))) == []


def test_stats_cache_ratio_is_none_without_input_tokens(conn: psycopg.Connection[Any]) -> None:
    insert(conn, [Call(NOW - timedelta(hours=1), input_tokens=None, cache_read=None, status="error")])
    (row,) = queries.stats(conn, window(NOW - timedelta(days=1), NOW))
    assert row.cache_hit_ratio is None
    assert row.error_rate == 1.0
    assert row.input_tokens == 0


def test_stats_rejects_bad_arguments(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="group by"):
        queries.stats(conn, window(NOW), "nonsense")
    with pytest.raises(ValueError, match="attribute key"):
        queries.stats(conn, window(NOW), "attr:no spaces")
    with pytest.raises(ValueError, match="timezone"):
        window(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="later"):
        window(NOW, NOW - timedelta(days=1))


def test_stats_takes_the_same_filters_as_calls(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    mine = [c for c in calls if c.user == "alice" and c.workflow == "answer"]
    assert mine
    (row,) = queries.stats(conn, window(user="alice", workflow="answer"))
    assert actual(row) == expected_stats(mine)
    by_model = queries.stats(conn, window(user="alice", workflow="answer"), "model")
    assert sum(r.calls for r in by_model) == len(mine)


def test_token_counting_is_reported_apart(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(NOW - timedelta(hours=1), input_tokens=100, cost=Decimal("0.01")),
            Call(NOW - timedelta(hours=1), operation="count_tokens", input_tokens=900, output_tokens=None, cost=None),
        ],
    )
    (row,) = queries.stats(conn, window(NOW - timedelta(days=1)))
    assert (row.calls, row.input_tokens, row.counted_tokens, row.cost_usd) == (2, 100, 900, Decimal("0.01"))


# --- calls ------------------------------------------------------------------------------------------------


def test_calls_newest_first_with_preview(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    rows = queries.calls(conn, queries.CallFilter(limit=5))
    newest = newest_first(calls)[:5]
    assert [r.span_id for r in rows] == [c.span_id for c in newest]
    first = rows[0]
    call = newest[0]
    assert (first.start_time, first.trace_id, first.model, first.cost_usd, first.status) == (
        call.start,
        call.trace_id,
        call.key_model,
        call.cost,
        call.status,
    )
    assert first.prompt_preview == f"question {calls.index(call)}"


@pytest.mark.parametrize(
    ("criteria", "matches"),
    [
        ({"status": "error"}, lambda c: c.status == "error"),
        ({"status": "ok"}, lambda c: c.status == "ok"),
        ({"model": "claude-haiku-4-5"}, lambda c: c.model == "claude-haiku-4-5"),
        ({"model": "claude-sonnet-4-5-20250929"}, lambda c: True),  # the answering model matches too
        ({"user": "alice"}, lambda c: c.user == "alice"),
        ({"session": "s2"}, lambda c: c.session == "s2"),
        ({"tag": "beta"}, lambda c: "beta" in (c.tags or [])),
        ({"min_cost": Decimal("0.002")}, lambda c: c.cost is not None and c.cost >= Decimal("0.002")),
        ({"min_latency_ms": 4000.0}, lambda c: c.duration_ms >= 4000.0),
        ({"service": "worker"}, lambda c: c.service == "worker"),
        ({"workflow": "ingest"}, lambda c: c.workflow == "ingest"),
        ({"call_type": "rag_query"}, lambda c: c.call_type == "rag_query"),
        ({"operation": "count_tokens"}, lambda c: c.operation == "count_tokens"),
        ({"error_type": "rate_limit_error"}, lambda c: c.status == "error" and c.error_type == "rate_limit_error"),
        ({"prompt": "support"}, lambda c: c.prompt_name == "support"),
        ({"prompt": "support@v2"}, lambda c: c.prompt_name == "support" and c.prompt_version == "v2"),
        ({"tool": "lookup"}, lambda c: "lookup" in (c.tool_names or [])),
        ({"attrs": (("company_id", "comp_2"),)}, lambda c: c.attributes.get("tokentrail.app.company_id") == "comp_2"),
        ({"retried": True}, lambda c: (c.attempts or 1) > 1),
        ({"retried": False}, lambda c: (c.attempts or 1) <= 1),
        ({"search": "QUESTION 1"}, lambda c: c.input_body is not None and "question 1" in c.input_body),
        (
            {"since": NOW - timedelta(days=2), "until": NOW - timedelta(hours=6), "user": "bob"},
            lambda c: NOW - timedelta(days=2) <= c.start < NOW - timedelta(hours=6) and c.user == "bob",
        ),
    ],
)
def test_calls_filters(
    conn: psycopg.Connection[Any], criteria: dict[str, Any], matches: Callable[[Call], bool]
) -> None:
    calls = dataset()
    insert(conn, calls)
    expected = [c.span_id for c in newest_first(calls) if matches(c)]
    assert expected, "the data set must exercise the filter"
    rows = queries.calls(conn, queries.CallFilter(limit=1000, **criteria))
    assert [r.span_id for r in rows] == expected


def test_calls_pages_sorts_and_counts(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    where = window(user="alice")
    mine = [c for c in calls if c.user == "alice"]
    assert queries.count_calls(conn, where) == len(mine)
    by_cost = sorted(mine, key=lambda c: (c.cost is None, -(c.cost or 0)))
    first = queries.calls(conn, window(user="alice", limit=3), sort="-cost")
    second = queries.calls(conn, window(user="alice", limit=3, offset=3), sort="-cost")
    assert [r.cost_usd for r in first + second] == [c.cost for c in by_cost[:6]]
    assert not {r.span_id for r in first} & {r.span_id for r in second}
    fastest = queries.calls(conn, window(limit=1), sort="latency")
    assert fastest[0].duration_ms == min(c.duration_ms for c in calls)
    with pytest.raises(ValueError, match="sort"):
        queries.calls(conn, where, sort="name")


def test_calls_carry_the_read_side_columns(conn: psycopg.Connection[Any]) -> None:
    call = Call(
        NOW - timedelta(minutes=1),
        workflow="answer",
        call_type="rag_query",
        prompt_name="support",
        prompt_version="v3",
        tags=["beta"],
        tool_names=["search"],
        tool_call_ids=["toolu_1"],
        attempts=2,
    )
    insert(conn, [call])
    (row,) = queries.calls(conn, window())
    assert (row.workflow_name, row.call_type, row.prompt_name, row.prompt_version) == (
        "answer",
        "rag_query",
        "support",
        "v3",
    )
    assert (row.tags, row.tool_names, row.attempts) == (["beta"], ["search"], 2)


def test_calls_by_incoming_request_id(conn: psycopg.Connection[Any]) -> None:
    server = Span(
        secrets.token_hex(16),
        secrets.token_hex(8),
        "POST /answer",
        NOW - timedelta(minutes=2),
        900.0,
        kind=2,
        attributes={"http.request.header.x_request_id": ["req-42"]},
    )
    wanted = Call(NOW - timedelta(minutes=2), trace_id=server.trace_id, parent_span_id=server.span_id)
    other = Call(NOW - timedelta(minutes=2))
    insert(conn, [server, wanted, other])
    rows = queries.calls(conn, window(request_id="req-42"))
    assert [r.span_id for r in rows] == [wanted.span_id]
    assert queries.calls(conn, window(request_id="req-43")) == []


def test_export_streams_every_column_with_content(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    rows = list(export.export_calls(conn, window(user="bob", limit=1), with_content=True))
    bobs = newest_first([c for c in calls if c.user == "bob"])
    assert [r["span_id"] for r in rows] == [c.span_id for c in bobs]  # the whole selection, not one page
    first, call = rows[0], bobs[0]
    assert first["content_input"] == json.loads(call.input_body or "null")
    assert first["content_output"] is None
    assert first["input_sha256"] == hashlib.sha256((call.input_body or "").encode()).hexdigest()
    assert {"tool_names", "attempts", "call_type", "attributes", "tags", "workflow_name"} <= set(first)
    plain = next(export.export_calls(conn, window(user="bob")))
    assert "content_input" not in plain
    conn.execute("SELECT 1")  # the connection is usable again


def test_calls_error_fields_and_missing_content(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(
                NOW - timedelta(minutes=5),
                status="error",
                error_type="rate_limit_error",
                error_message="Number of request tokens has exceeded your per-minute rate limit",
                cost=None,
                input_body=None,
            )
        ],
    )
    (row,) = queries.calls(conn, queries.CallFilter(status="error"))
    assert (row.error_type, row.cost_usd, row.prompt_preview) == ("rate_limit_error", None, None)
    assert row.error_message is not None
    assert row.error_message.startswith("Number of request tokens")


def test_call_filter_validates() -> None:
    with pytest.raises(ValueError, match="limit"):
        queries.CallFilter(limit=0)
    with pytest.raises(ValueError, match="status"):
        queries.CallFilter(status="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        queries.CallFilter(limit=callfilter.MAX_LIMIT + 1)
    with pytest.raises(ValueError, match="offset"):
        queries.CallFilter(offset=-1)
    with pytest.raises(ValueError, match="prompt"):
        queries.CallFilter(prompt="support@")
    with pytest.raises(ValueError, match="attribute key"):
        queries.CallFilter(attrs=(("a b", "1"),))
    with pytest.raises(ValueError, match="search"):
        queries.CallFilter(search="  ")


def test_preview_is_cut_to_80_characters(conn: psycopg.Connection[Any]) -> None:
    long_text = "word " * 40
    insert(conn, [Call(NOW, input_body=user_messages("first question", long_text))])
    (row,) = queries.calls(conn, queries.CallFilter())
    assert row.prompt_preview == ("word " * 16).strip()[:79] + "…"
    assert len(row.prompt_preview) == 80


# --- compare ----------------------------------------------------------------------------------------------


def test_compare_prompts(conn: psycopg.Connection[Any]) -> None:
    calls = [
        c
        for c in dataset(seed=11, count=60)
        if c.prompt_name == "support"  # only the prompt under test, plus noise below
    ]
    noise = Call(NOW - timedelta(hours=1), prompt_name="other", prompt_version="v1")
    insert(conn, [*calls, noise])
    rows = queries.compare_prompts(conn, "support", ["v2", "v1", "v9"], NOW - timedelta(days=30))
    assert [r.version for r in rows] == ["v2", "v1", "v9"]
    for row in rows[:2]:
        group = [c for c in calls if c.prompt_version == row.version]
        costs = [c.cost for c in group if c.cost is not None]
        outputs = [c.output_tokens for c in group if c.output_tokens is not None]
        assert row.calls == len(group)
        assert row.success_rate == pytest.approx(sum(c.status == "ok" for c in group) / len(group))
        assert row.latency_p50_ms == pytest.approx(percentile([c.duration_ms for c in group], 0.5))
        assert row.latency_p95_ms == pytest.approx(percentile([c.duration_ms for c in group], 0.95))
        assert row.mean_cost_usd is not None
        assert float(row.mean_cost_usd) == pytest.approx(float(sum(costs)) / len(costs))
        assert row.mean_output_tokens == pytest.approx(sum(outputs) / len(outputs))
    assert rows[2] == queries.PromptVersionRow("v9", 0, None, None, None, None, None)
    every = queries.compare_prompts(conn, "support")
    first_use = sorted(
        {c.prompt_version for c in calls}, key=lambda v: min(c.start for c in calls if c.prompt_version == v)
    )
    assert [r.version for r in every] == first_use


# --- the package ------------------------------------------------------------------------------------------


def test_the_package_re_exports_the_query_api() -> None:
    homes = {
        "last_user_text": content,
        "LlmInfo": trace,
        "TreeNode": trace,
        "trace_tree": trace,
        "CallFilter": callfilter,
        "export_calls": export,
    }
    for name in reports.__all__:
        assert getattr(reports, name) is getattr(homes.get(name, queries), name), name
    assert sorted(dir(reports)) == sorted(reports.__all__)
