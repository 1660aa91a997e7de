"""tokentrail.reports against a real, migrated PostgreSQL database.

Rows are written with plain INSERTs (the sink's ingest path has its own tests); every expectation is computed
here in Python from the same rows, independently of the SQL under test.
"""

from __future__ import annotations

import json
import random
import secrets
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, blob, insert, user_messages
from tokentrail import reports

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
            )
        )
    return calls


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


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
    input_tokens = sum(c.input_tokens or 0 for c in calls)
    durations = [c.duration_ms for c in calls]
    ttfc = [c.ttfc_ms for c in calls if c.ttfc_ms is not None]
    errors = sum(c.status == "error" for c in calls)
    return {
        "calls": len(calls),
        "errors": errors,
        "error_rate": pytest.approx(errors / len(calls)),
        "input_tokens": input_tokens,
        "output_tokens": sum(c.output_tokens or 0 for c in calls),
        "cache_read_tokens": sum(c.cache_read or 0 for c in calls),
        "cache_hit_ratio": pytest.approx(sum(c.cache_read or 0 for c in calls) / input_tokens)
        if input_tokens
        else None,
        "cost_usd": sum((c.cost or Decimal(0) for c in calls), Decimal(0)),
        "latency_p50_ms": pytest.approx(percentile(durations, 0.50)),
        "latency_p95_ms": pytest.approx(percentile(durations, 0.95)),
        "latency_p99_ms": pytest.approx(percentile(durations, 0.99)),
        "ttfc_p50_ms": pytest.approx(percentile(ttfc, 0.50)) if ttfc else None,
        "ttfc_p95_ms": pytest.approx(percentile(ttfc, 0.95)) if ttfc else None,
    }


def actual(row: reports.StatsRow) -> dict[str, Any]:
    values = dict(vars(row))
    values.pop("key")
    return values


GROUP_KEYS: dict[str, Callable[[Call], list[str | None]]] = {
    "day": lambda c: [c.start.date().isoformat()],
    "model": lambda c: [c.key_model],
    "user": lambda c: [c.user],
    "session": lambda c: [c.session],
    "service": lambda c: [c.service],
    "call-type": lambda c: [c.operation],
    "prompt-version": lambda c: [
        f"{c.prompt_name}@{c.prompt_version}" if c.prompt_name else "?@" + str(c.prompt_version)
    ],
    "tag": lambda c: list[str | None](sorted(set(c.tags))) if c.tags else [None],
}


# --- stats ------------------------------------------------------------------------------------------------


def test_stats_overall_matches_independent_computation(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    rows = reports.stats(conn, NOW - timedelta(days=7), NOW)
    assert len(rows) == 1
    assert rows[0].key is None
    assert actual(rows[0]) == expected_stats(calls)


@pytest.mark.parametrize("by", reports.GROUPINGS)
def test_stats_by_each_grouping(conn: psycopg.Connection[Any], by: reports.Grouping) -> None:
    calls = dataset()
    insert(conn, calls)
    groups: dict[str | None, list[Call]] = defaultdict(list)
    for call in calls:
        for key in GROUP_KEYS[by](call):
            groups[key].append(call)
    rows = reports.stats(conn, NOW - timedelta(days=7), None, by)
    assert {row.key for row in rows} == set(groups)
    for row in rows:
        assert actual(row) == expected_stats(groups[row.key]), row.key
    keys = [row.key for row in rows]
    if by == "day":
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
    rows = reports.stats(conn, NOW - timedelta(days=1), NOW, "tag")
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
    (row,) = reports.stats(conn, since, until)
    assert row.calls == 2
    assert row.latency_p50_ms == pytest.approx(150.0)
    assert row.ttfc_p50_ms is None
    assert reports.stats(conn, until + timedelta(days=1), None) == []


def test_stats_cache_ratio_is_none_without_input_tokens(conn: psycopg.Connection[Any]) -> None:
    insert(conn, [Call(NOW - timedelta(hours=1), input_tokens=None, cache_read=None, status="error")])
    (row,) = reports.stats(conn, NOW - timedelta(days=1), NOW)
    assert row.cache_hit_ratio is None
    assert row.error_rate == 1.0
    assert row.input_tokens == 0


def test_stats_rejects_bad_arguments(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="group by"):
        reports.stats(conn, NOW, None, "nonsense")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        reports.stats(conn, datetime(2026, 1, 1), None)
    with pytest.raises(ValueError, match="later"):
        reports.stats(conn, NOW, NOW - timedelta(days=1))


# --- calls ------------------------------------------------------------------------------------------------


def test_calls_newest_first_with_preview(conn: psycopg.Connection[Any]) -> None:
    calls = dataset()
    insert(conn, calls)
    rows = reports.calls(conn, reports.CallFilter(limit=5))
    newest = sorted(calls, key=lambda c: c.start, reverse=True)[:5]
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
    expected = [c.span_id for c in sorted(calls, key=lambda c: c.start, reverse=True) if matches(c)]
    assert expected, "the data set must exercise the filter"
    rows = reports.calls(conn, reports.CallFilter(limit=1000, **criteria))
    assert [r.span_id for r in rows] == expected


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
    (row,) = reports.calls(conn, reports.CallFilter(status="error"))
    assert (row.error_type, row.cost_usd, row.prompt_preview) == ("rate_limit_error", None, None)
    assert row.error_message is not None
    assert row.error_message.startswith("Number of request tokens")


def test_call_filter_validates() -> None:
    with pytest.raises(ValueError, match="limit"):
        reports.CallFilter(limit=0)
    with pytest.raises(ValueError, match="status"):
        reports.CallFilter(status="maybe")  # type: ignore[arg-type]


def test_preview_is_cut_to_80_characters(conn: psycopg.Connection[Any]) -> None:
    long_text = "word " * 40
    insert(conn, [Call(NOW, input_body=user_messages("first question", long_text))])
    (row,) = reports.calls(conn, reports.CallFilter())
    assert row.prompt_preview == ("word " * 16).strip()[:79] + "…"
    assert len(row.prompt_preview) == 80


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (user_messages("hello", "second"), "second"),
        (json.dumps([{"role": "user", "content": "plain string"}]), "plain string"),
        (json.dumps([{"role": "user", "content": [{"type": "text", "text": "anthropic block"}]}]), "anthropic block"),
        (
            json.dumps(
                [
                    {"role": "user", "parts": [{"type": "text", "content": "asked"}]},
                    {"role": "assistant", "parts": [{"type": "tool_call", "name": "f"}]},
                    {"role": "user", "parts": [{"type": "tool_call_response", "response": "42"}]},
                ]
            ),
            "asked",
        ),
        (json.dumps({"messages": [{"role": "user", "content": "wrapped"}]}), "wrapped"),
        (user_messages("kept", "cut short")[:-12], "cu"),
        ('[{"role": "user", "content": [{"type": "image"}]}, {"role": "assistant", "content": "no', None),
        ('[{"role": "user", "parts": [{"type": "text", "content": "esc\\"aped\\n', 'esc"aped\n'),
        (json.dumps([{"role": "assistant", "content": "only me"}]), None),
        ("not json at all", None),
    ],
)
def test_last_user_text(body: str, expected: str | None) -> None:
    assert reports.last_user_text(body) == expected


# --- trace tree -------------------------------------------------------------------------------------------


def test_trace_tree_nests_spans_and_joins_llm_calls(conn: psycopg.Connection[Any]) -> None:
    trace = secrets.token_hex(16)
    t0 = NOW - timedelta(minutes=1)
    root = Span(trace, "a" * 16, "POST /chat", t0, 1500.0, kind=2)
    step = Span(trace, "b" * 16, "retrieve", t0 + timedelta(milliseconds=10), 300.0, parent_span_id=root.span_id)
    inner = Call(
        t0 + timedelta(milliseconds=20),
        duration_ms=250.0,
        model="claude-haiku-4-5",
        trace_id=trace,
        span_id="c" * 16,
        parent_span_id=step.span_id,
    )
    main = Call(
        t0 + timedelta(milliseconds=400),
        duration_ms=1000.0,
        trace_id=trace,
        span_id="d" * 16,
        parent_span_id=root.span_id,
        status="error",
        error_type="overloaded_error",
        cost=None,
    )
    orphan = Span(trace, "e" * 16, "late step", t0 + timedelta(milliseconds=5), 5.0, parent_span_id="f" * 16)
    other_trace = Call(t0, trace_id=secrets.token_hex(16))
    insert(conn, [root, step, inner, main, orphan, other_trace])

    roots = reports.trace_tree(conn, trace.upper())
    assert [(n.span_id, n.orphan) for n in roots] == [(root.span_id, False), (orphan.span_id, True)]
    assert [c.name for c in roots[0].children] == ["retrieve", "chat claude-sonnet-4-5"]
    haiku = roots[0].children[0].children[0]
    assert haiku.llm == reports.LlmInfo("chat", "claude-haiku-4-5", 100, 20, Decimal("0.001"), "ok", None)
    failed = roots[0].children[1]
    assert failed.llm is not None
    assert (failed.llm.status, failed.llm.error_type, failed.status_code) == ("error", "overloaded_error", 2)
    assert roots[0].llm is None
    assert sum(1 for r in roots for _ in r.walk()) == 5
    assert reports.trace_tree(conn, secrets.token_hex(16)) == []


def test_trace_tree_survives_parent_cycles_and_calls_without_spans(conn: psycopg.Connection[Any]) -> None:
    trace = secrets.token_hex(16)
    a = Span(trace, "1" * 16, "a", NOW, 10.0, parent_span_id="2" * 16)
    b = Span(trace, "2" * 16, "b", NOW + timedelta(milliseconds=1), 10.0, parent_span_id="1" * 16)
    lone = Call(NOW + timedelta(milliseconds=2), trace_id=trace, span_id="3" * 16, with_span=False)
    insert(conn, [a, b, lone])
    roots = reports.trace_tree(conn, trace)
    spans = [n for r in roots for n in r.walk()]
    assert sorted(n.span_id for n in spans) == ["1" * 16, "2" * 16, "3" * 16]
    assert any(n.orphan for n in roots)
    lone_node = next(n for n in spans if n.span_id == "3" * 16)
    assert lone_node.name == "chat claude-sonnet-4-5"
    assert lone_node.llm is not None


# --- compare ----------------------------------------------------------------------------------------------


def test_compare_prompts(conn: psycopg.Connection[Any]) -> None:
    calls = [
        c
        for c in dataset(seed=11, count=60)
        if c.prompt_name == "support"  # only the prompt under test, plus noise below
    ]
    noise = Call(NOW - timedelta(hours=1), prompt_name="other", prompt_version="v1")
    insert(conn, [*calls, noise])
    rows = reports.compare_prompts(conn, "support", ["v2", "v1", "v9"], NOW - timedelta(days=30))
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
    assert rows[2] == reports.PromptVersionRow("v9", 0, None, None, None, None, None)
    every = reports.compare_prompts(conn, "support")
    first_use = sorted(
        {c.prompt_version for c in calls}, key=lambda v: min(c.start for c in calls if c.prompt_version == v)
    )
    assert [r.version for r in every] == first_use


# --- prune ------------------------------------------------------------------------------------------------


def _partitions(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('spans', 'llm_calls', 'llm_call_reports')"
    ).fetchall()
    return {r[0] for r in rows}


def _blob_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM content_blobs").fetchone()
    assert row is not None
    return int(row[0])


def _prune_data(conn: psycopg.Connection[Any]) -> None:
    shared = user_messages("the same system prompt")
    insert(
        conn,
        [
            # 100 days ago: two calls, one with a blob only it uses, one with a blob also used by a recent call
            Call(NOW - timedelta(days=100), input_body=user_messages("old only")),
            Call(NOW - timedelta(days=100, hours=-1), input_body=shared),
            # 95 days ago
            Call(NOW - timedelta(days=95), input_body=user_messages("old too")),
            # 89 days ago: within the kept window
            Call(NOW - timedelta(days=89), input_body=user_messages("kept")),
            Call(NOW - timedelta(days=1), input_body=shared),
        ],
    )


def test_prune_dry_run_changes_nothing(conn: psycopg.Connection[Any]) -> None:
    _prune_data(conn)
    before = (_partitions(conn), _blob_count(conn))
    result = reports.prune(conn, timedelta(days=90), dry_run=True, now=NOW)
    assert result.dry_run
    assert result.cutoff == NOW - timedelta(days=90)
    assert [(p.table, p.name, p.rows) for p in result.partitions] == [
        ("llm_call_reports", "llm_call_reports_p20260812", 0),
        ("llm_calls", "llm_calls_p20260812", 2),
        ("spans", "spans_p20260812", 2),
        ("llm_call_reports", "llm_call_reports_p20260817", 0),
        ("llm_calls", "llm_calls_p20260817", 1),
        ("spans", "spans_p20260817", 1),
    ]
    assert result.rows == 6
    assert result.blobs == 2
    assert (_partitions(conn), _blob_count(conn)) == before


def test_prune_drops_whole_old_partitions_and_unreferenced_blobs(conn: psycopg.Connection[Any]) -> None:
    _prune_data(conn)
    # an unreferenced blob written a moment ago (its call row may still be on its way) must survive
    with conn.cursor() as cur:
        blob(cur, "in flight", NOW - timedelta(minutes=5))
    before = _partitions(conn)
    result = reports.prune(conn, timedelta(days=90), now=NOW)
    assert not result.dry_run
    assert before - _partitions(conn) == {
        "llm_call_reports_p20260812",
        "llm_calls_p20260812",
        "spans_p20260812",
        "llm_call_reports_p20260817",
        "llm_calls_p20260817",
        "spans_p20260817",
    }
    assert {"llm_calls_p20260823", "spans_p20260823"} <= _partitions(conn)  # partly newer than the cutoff: kept
    assert result.blobs == 2
    bodies = {r[0] for r in conn.execute("SELECT body FROM content_blobs").fetchall()}
    assert bodies == {user_messages("the same system prompt"), user_messages("kept"), "in flight"}
    row = conn.execute("SELECT count(*) FROM llm_calls").fetchone()
    assert row is not None
    assert row[0] == 2
    again = reports.prune(conn, timedelta(days=90), now=NOW)
    assert (again.partitions, again.blobs) == ([], 0)


@pytest.mark.parametrize("older_than", [timedelta(0), timedelta(hours=23), timedelta(days=-3)])
def test_prune_refuses_nonsense(conn: psycopg.Connection[Any], older_than: timedelta) -> None:
    with pytest.raises(ValueError, match="at least"):
        reports.prune(conn, older_than)


# --- views ------------------------------------------------------------------------------------------------


def _view(conn: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(query).fetchall()]


def test_views(conn: psycopg.Connection[Any]) -> None:
    day1, day2 = NOW - timedelta(days=1), NOW
    insert(
        conn,
        [
            Call(
                day1,
                duration_ms=100.0,
                input_tokens=1000,
                output_tokens=10,
                cache_read=400,
                cost=Decimal("0.01"),
                user="alice",
                ttfc_ms=50.0,
                prompt_name="p",
                prompt_version="v1",
            ),
            Call(
                day1,
                duration_ms=300.0,
                input_tokens=1000,
                output_tokens=30,
                cache_read=0,
                cost=Decimal("0.02"),
                user="alice",
                ttfc_ms=70.0,
                prompt_name="p",
                prompt_version="v1",
            ),
            Call(
                day1,
                duration_ms=900.0,
                status="error",
                error_type="rate_limit_error",
                input_tokens=None,
                output_tokens=None,
                cache_read=None,
                cost=None,
                user="bob",
                prompt_name="p",
                prompt_version="v2",
            ),
            Call(
                day2,
                duration_ms=200.0,
                model="claude-haiku-4-5",
                input_tokens=10,
                output_tokens=5,
                cache_read=0,
                cost=Decimal("0.001"),
                status="error",
                error_type=None,
            ),
        ],
    )
    d1, d2 = day1.date(), day2.date()
    sonnet, haiku = "claude-sonnet-4-5", "claude-haiku-4-5"
    assert _view(conn, "SELECT * FROM llm_daily_cost ORDER BY day, request_model") == [
        (d1, sonnet, 3, 2000, 40, Decimal("0.03")),
        (d2, haiku, 1, 10, 5, Decimal("0.001")),
    ]
    assert _view(conn, "SELECT * FROM llm_cost_by_user ORDER BY day, user_id NULLS LAST") == [
        (d1, "alice", 2, 2000, 40, Decimal("0.03")),
        (d1, "bob", 1, 0, 0, Decimal("0")),
        (d2, None, 1, 10, 5, Decimal("0.001")),
    ]
    assert _view(conn, "SELECT * FROM llm_latency_by_model ORDER BY day") == [
        (d1, sonnet, 3, 300.0, pytest.approx(840.0), pytest.approx(888.0), 60.0, pytest.approx(69.0)),
        (d2, haiku, 1, 200.0, 200.0, 200.0, None, None),
    ]
    assert _view(conn, "SELECT * FROM llm_errors_daily ORDER BY day") == [
        (d1, sonnet, "rate_limit_error", 1, 3, pytest.approx(1 / 3)),
        (d2, haiku, "unknown", 1, 1, 1.0),
    ]
    assert _view(conn, "SELECT * FROM llm_cache_daily ORDER BY day") == [
        (d1, sonnet, 3, 2000, 400, 0, pytest.approx(0.2)),
        (d2, haiku, 1, 10, 0, 0, 0.0),
    ]
    rows = _view(conn, "SELECT * FROM llm_prompt_versions ORDER BY prompt_version")
    assert rows == [
        ("p", "v1", day1, day1, 2, 1.0, 200.0, pytest.approx(290.0), Decimal("0.015"), 20.0),
        ("p", "v2", day1, day1, 1, 0.0, 900.0, 900.0, None, None),
    ]
    comments = _view(
        conn,
        "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.relkind = 'v' "
        "AND c.relname LIKE 'llm\\_%' ORDER BY 1",
    )
    assert [name for name, _ in comments] == [
        "llm_cache_daily",
        "llm_cost_by_user",
        "llm_daily_cost",
        "llm_errors_daily",
        "llm_latency_by_model",
        "llm_prompt_versions",
    ]
    assert all(comment for _, comment in comments)
