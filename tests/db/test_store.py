"""Writes to a real Postgres: idempotent, content stored once, partitions on demand, bad rows isolated."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from tests.fixtures import otlp
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.db.rows import Batch
from tokentrail.db.store import Store, StoreUnavailable
from tokentrail.sink.normalise import Normaliser
from tokentrail.sink.spans import extract_spans

SYSTEM = "You are the support agent of ACME. Follow the policy below.\n" + "Policy line.\n" * 200
DAY_NS = 86_400 * 10**9


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    async with Store(database_url, pool_size=4, acquire_timeout=5) as opened:
        yield opened


def _batch(*spans: Any, scope: str = anthropic_contract.INSTRUMENTATION_SCOPE) -> Batch:
    extracted = extract_spans(otlp.request(list(spans), scope=scope))
    return Normaliser(None).batch(extracted.spans)


def _llm_span(user_turn: str, **extra: Any) -> Any:
    content = {
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: SYSTEM,
        semconv.GEN_AI_INPUT_MESSAGES: f'[{{"role":"user","parts":[{{"type":"text","content":"{user_turn}"}}]}}]',
    }
    return otlp.span("chat claude-sonnet-4-5", attributes=otlp.llm_attributes(**content, **extra), kind=3)


async def test_write_commits_rows_and_a_retry_adds_nothing(store: Store, database_url: str) -> None:
    batch = _batch(_llm_span("hello"), otlp.span("GET /"), _llm_span("bye"))
    first = await store.write(batch)
    assert (first.spans_inserted, first.llm_calls_inserted, first.blobs_inserted, first.rejected) == (3, 2, 3, 0)
    assert otlp.counts(database_url) == (3, 2, 3)

    again = await store.write(batch)
    assert (again.spans_inserted, again.llm_calls_inserted, again.blobs_inserted) == (0, 0, 0)
    assert otlp.counts(database_url) == (3, 2, 3)


async def test_rows_round_trip_with_their_values(store: Store, database_url: str) -> None:
    span = _llm_span("hi", **{semconv.TAGS: ["a", "b"], semconv.COST_USD: 0.5, semconv.COST_SOURCE: "x"})
    batch = _batch(span)
    await store.write(batch)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT c.trace_id, c.tags, c.cost_usd, b.body, s.attributes -> %s ->> 'sha256', s.is_llm, s.service_name"
            " FROM llm_calls c JOIN content_blobs b ON b.sha256 = c.system_sha256"
            " JOIN spans s USING (trace_id, span_id, start_time)",
            (semconv.GEN_AI_SYSTEM_INSTRUCTIONS,),
        ).fetchone()
    assert row is not None
    trace_id, tags, cost, body, ref, is_llm, service = row
    assert trace_id == span.trace_id.hex()
    assert tags == ["a", "b"]
    assert float(cost) == 0.5
    assert body == SYSTEM
    assert ref == batch.llm_calls[0].system_sha256.hex() if batch.llm_calls[0].system_sha256 else False
    assert (is_llm, service) == (True, "checkout")


async def test_content_shared_across_batches_is_stored_once(store: Store, database_url: str) -> None:
    for turn in range(5):
        await store.write(_batch(_llm_span(f"question {turn}")))
    # one system prompt + five distinct user turns
    assert otlp.count(database_url, "content_blobs") == 6
    assert otlp.count(database_url, "llm_calls", "system_sha256 IS NOT NULL") == 5


async def test_partitions_are_created_for_every_day_in_the_batch(store: Store, database_url: str) -> None:
    long_ago = 946_684_800 * 10**9  # 2000-01-01
    batch = _batch(otlp.span("a"), otlp.span("b", start_ns=otlp.T0 + DAY_NS), otlp.span("c", start_ns=long_ago))
    await store.write(batch)
    with psycopg.connect(database_url) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'spans'::regclass"
            ).fetchall()
        }
    assert {"spans_p20261122", "spans_p20261123", "spans_p20000101"} <= names
    assert otlp.count(database_url, "spans") == 3


async def test_a_partition_dropped_behind_the_cache_is_recreated(store: Store, database_url: str) -> None:
    await store.write(_batch(otlp.span("first")))
    with psycopg.connect(database_url, autocommit=True) as conn:  # what retention does
        conn.execute("DROP TABLE spans_p20261122")
        conn.execute("DROP TABLE llm_calls_p20261122")
    result = await store.write(_batch(otlp.span("second"), _llm_span("x")))
    assert (result.spans_inserted, result.llm_calls_inserted) == (2, 1)


async def test_a_row_the_database_refuses_is_rejected_alone(store: Store, database_url: str) -> None:
    batch = _batch(_llm_span("fine"), _llm_span("broken"), otlp.span("plain"))
    # bypass normalisation's range checks: a token count beyond bigint
    batch.llm_calls[1] = batch.llm_calls[1]._replace(input_tokens=2**63)
    result = await store.write(batch)
    assert result.rejected == 1
    assert "out of range" in result.reasons[0]
    assert (result.spans_inserted, result.llm_calls_inserted) == (2, 1)
    assert otlp.counts(database_url)[:2] == (2, 1)
    assert otlp.count(database_url, "spans", f"span_id = '{batch.spans[1].span_id}'") == 0


async def test_concurrent_overlapping_writes_store_each_span_once(store: Store, database_url: str) -> None:
    spans = [_llm_span(f"turn {i}") for i in range(40)]
    batches = [_batch(*spans[i : i + 20]) for i in (0, 10, 20, 0, 10, 20)]
    results = await asyncio.gather(*(store.write(batch) for batch in batches))
    assert sum(r.spans_inserted for r in results) == 40
    assert otlp.counts(database_url) == (40, 40, 41)


async def test_an_unreachable_database_raises_store_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Store(f"postgresql://nobody@127.0.0.1:{port}/x", acquire_timeout=0.5) as dead:
        with pytest.raises(StoreUnavailable):
            await dead.write(_batch(otlp.span("lost?")))
        ready, why = await dead.ready()
        assert not ready
        assert "unavailable" in why


async def test_ready_requires_migrations(pg_cluster: Any, database_url: str, store: Store) -> None:
    assert await store.ready() == (True, "ok")
    name = f"e_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    try:
        async with Store(url, acquire_timeout=0.5) as unmigrated:
            ready, _ = await unmigrated.ready()
            assert not ready
            with pytest.raises(StoreUnavailable):
                await unmigrated.write(_batch(otlp.span("x")))
    finally:
        pg_cluster.drop_database(name)


async def test_a_content_blob_vanishing_mid_write_is_retried_not_rejected(store: Store, database_url: str) -> None:
    # Retention deleting a blob between our ON CONFLICT DO NOTHING and the llm_calls insert, injected once in the
    # database itself: a trigger that deletes the referenced blob the first time an llm_calls row arrives.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE fault_fired")  # sequences ignore rollback: the fault fires once
        conn.execute(
            """CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('fault_fired') = 1 THEN
                    DELETE FROM content_blobs WHERE sha256 = NEW.system_sha256;
                END IF;
                RETURN NEW;
            END $$"""
        )
        conn.execute("CREATE TRIGGER fault BEFORE INSERT ON llm_calls FOR EACH ROW EXECUTE FUNCTION fault()")
    result = await store.write(_batch(_llm_span("q")))
    assert (result.rejected, result.spans_inserted, result.llm_calls_inserted) == (0, 1, 1)
    assert otlp.count(database_url, "llm_calls", "system_sha256 IN (SELECT sha256 FROM content_blobs)") == 1


async def test_read_side_columns_round_trip(store: Store, database_url: str) -> None:
    facts = {
        semconv.CALL_TYPE: "summarization",
        semconv.TOOL_CALL_NAMES: ["get_weather"],
        semconv.TOOL_CALL_IDS: ["toolu_1"],
        semconv.REQUEST_ATTEMPTS: 2,
    }
    await store.write(_batch(_llm_span("facts", **facts)))
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT call_type, tool_names, tool_call_ids, attempts FROM llm_calls").fetchone()
        tool_call = conn.execute("SELECT tool_name, tool_call_id, ordinal FROM llm_tool_calls").fetchone()
        retried = conn.execute("SELECT attempts FROM llm_retried_calls").fetchone()
    assert row == ("summarization", ["get_weather"], ["toolu_1"], 2)
    assert tool_call == ("get_weather", "toolu_1", 1)
    assert retried == (2,)


async def test_app_attributes_of_json_text_are_stored_as_that_text(store: Store, database_url: str) -> None:
    key = semconv.APP_ATTRIBUTE_PREFIX + "customer"
    given = '{"id":"c_9","plan":"pro"}'
    await store.write(_batch(_llm_span("json", **{key: given, semconv.CALL_TYPE: "rag_query"})))
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT jsonb_typeof(attributes -> %s), attributes ->> %s, attributes ? %s FROM llm_calls",
            (key, key, semconv.CALL_TYPE),
        ).fetchone()
    assert row == ("string", given, False)  # as given, under its full key; call_type lives in its column
