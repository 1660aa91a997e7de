"""Spans -> rows: LLM detection, typed columns, content stored once by hash, cost when the span has none."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures import otlp
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.db.rows import Batch
from tokentrail.pricing import PriceBook
from tokentrail.sink.normalise import LINKS_ATTRIBUTE, Normaliser
from tokentrail.sink.spans import DecodedSpan, extract_spans

SYSTEM = "You are a careful assistant. " * 20
INPUT = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}])
OUTPUT = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}])


def _decoded(*spans: Any, scope: str = anthropic_contract.INSTRUMENTATION_SCOPE) -> list[DecodedSpan]:
    extracted = extract_spans(otlp.request(list(spans), scope=scope))
    assert extracted.rejected == 0
    return extracted.spans


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(PriceBook())


def test_plain_span_becomes_a_spans_row_only(normaliser: Normaliser) -> None:
    batch = normaliser.batch(_decoded(otlp.span("GET /cart", attributes={"http.method": "GET"}), scope="http"))
    [row] = batch.spans
    assert not batch.llm_calls
    assert not row.is_llm
    assert json.loads(row.attributes) == {"http.method": "GET"}
    assert json.loads(row.resource_attributes) == {"service.name": "checkout"}
    assert row.duration_ms == 250.0
    assert row.start_time.isoformat() == "2026-11-22T10:00:00+00:00"
    assert batch.days == {row.start_time.date()}


def test_llm_span_maps_every_typed_column(normaliser: Normaliser) -> None:
    attrs = otlp.llm_attributes(
        **{
            semconv.GEN_AI_REQUEST_STREAM: True,
            semconv.GEN_AI_RESPONSE_ID: "msg_1",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
            semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.25,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 200,
            semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 100,
            semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 50,
            semconv.COST_USD: 0.0123,
            semconv.COST_SOURCE: "genai-prices 0.2.3",
            semconv.USER_ID: "u1",
            semconv.SESSION_ID: "s1",
            semconv.GEN_AI_CONVERSATION_ID: "c1",
            semconv.TAGS: ["beta", "eu"],
            semconv.PROMPT_NAME: "support",
            semconv.PROMPT_VERSION: "v2",
            semconv.WORKFLOW_NAME: "answer",
            anthropic_contract.REQUEST_ID: "req_1",
        }
    )
    batch = normaliser.batch(_decoded(otlp.span("chat claude-sonnet-4-5", attributes=attrs, kind=3)))
    [call] = batch.llm_calls
    assert batch.spans[0].is_llm
    assert (call.source, call.operation, call.provider) == ("tokentrail", "chat", "anthropic")
    assert (call.request_model, call.response_model, call.streaming) == (
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        True,
    )
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens, call.cache_write_tokens) == (
        1200,
        300,
        200,
        100,
    )
    assert call.reasoning_tokens == 50
    assert call.cost_usd == Decimal("0.0123")
    assert call.cost_source == "genai-prices 0.2.3"
    assert call.finish_reasons == ["stop"]
    assert call.time_to_first_chunk_ms == 250.0
    assert (call.user_id, call.session_id, call.conversation_id) == ("u1", "s1", "c1")
    assert call.tags == ["beta", "eu"]
    assert (call.prompt_name, call.prompt_version, call.workflow_name) == ("support", "v2", "answer")
    assert call.status == "ok"
    assert call.duration_ms == 250.0
    # attributes without a column are kept; those with one are not repeated
    assert json.loads(call.attributes) == {anthropic_contract.REQUEST_ID: "req_1"}


def test_error_span_takes_status_and_exception_message(normaliser: Normaliser) -> None:
    span = otlp.span(
        "chat m",
        attributes=otlp.llm_attributes(**{semconv.ERROR_TYPE: "overloaded_error"}),
        status_code=2,
    )
    span.events.add(name="exception", time_unix_nano=otlp.T0).attributes.extend(
        otlp.key_values({"exception.message": "Overloaded " + "x" * 2000})
    )
    [call] = normaliser.batch(_decoded(span)).llm_calls
    assert (call.status, call.error_type) == ("error", "overloaded_error")
    assert call.error_message is not None
    assert call.error_message.startswith("Overloaded")
    assert len(call.error_message) == 1000


def test_content_is_stored_once_by_sha256_and_replaced_by_a_reference(normaliser: Normaliser) -> None:
    content = {
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: SYSTEM,
        semconv.GEN_AI_INPUT_MESSAGES: INPUT,
        semconv.GEN_AI_OUTPUT_MESSAGES: OUTPUT,
    }
    spans = [otlp.span("chat m", attributes=otlp.llm_attributes(**content)) for _ in range(3)]
    batch = normaliser.batch(_decoded(*spans))

    digests = {key: hashlib.sha256(value.encode()).digest() for key, value in content.items()}
    assert set(batch.blobs) == set(digests.values())  # three calls, three distinct bodies: stored once each
    assert batch.blobs[digests[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]].body == SYSTEM
    assert batch.content_bytes == sum(len(v.encode()) for v in content.values())
    for span_row, call in zip(batch.spans, batch.llm_calls, strict=True):
        assert call.system_sha256 == digests[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
        assert call.input_sha256 == digests[semconv.GEN_AI_INPUT_MESSAGES]
        assert call.output_sha256 == digests[semconv.GEN_AI_OUTPUT_MESSAGES]
        assert call.tools_sha256 is None
        for attributes in (json.loads(span_row.attributes), json.loads(call.attributes)):
            for key, digest in digests.items():
                assert attributes[key] == {"sha256": digest.hex()}
            assert SYSTEM not in json.dumps(attributes)


def test_structured_content_values_are_serialised_before_hashing(normaliser: Normaliser) -> None:
    span = otlp.span("chat m", attributes=otlp.llm_attributes(**{semconv.GEN_AI_TOOL_DEFINITIONS: [{"name": "f"}]}))
    batch = normaliser.batch(_decoded(span))
    [blob] = batch.blobs.values()
    assert json.loads(blob.body) == [{"name": "f"}]
    assert batch.llm_calls[0].tools_sha256 == blob.sha256


def test_cost_is_computed_when_the_span_has_tokens_but_no_cost(normaliser: Normaliser) -> None:
    # claude-sonnet-4-5 published prices: $3 / MTok input, $15 / MTok output, $0.30 cache read, $3.75 5m cache write
    attrs = otlp.llm_attributes(
        **{
            # uncached + cache read + cache write, staying under the 200k long-context tier
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 100_000 + 50_000 + 40_000,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 10_000,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 50_000,
            semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 40_000,
        }
    )
    [call] = normaliser.batch(_decoded(otlp.span("chat m", attributes=attrs))).llm_calls
    expected = 0.1 * 3.0 + 0.05 * 0.30 + 0.04 * 3.75 + 0.01 * 15.0
    assert call.cost_usd is not None
    assert float(call.cost_usd) == pytest.approx(expected)
    assert call.cost_source is not None
    assert call.cost_source.startswith("sink:")


def test_cache_write_split_into_5m_and_1h_is_priced_separately(normaliser: Normaliser) -> None:
    attrs = otlp.llm_attributes(
        **{
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 180_000,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 0,
            semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 180_000,
            anthropic_contract.CACHE_WRITE_5M: 90_000,
            anthropic_contract.CACHE_WRITE_1H: 90_000,
        }
    )
    [call] = normaliser.batch(_decoded(otlp.span("chat m", attributes=attrs))).llm_calls
    assert call.cost_usd is not None
    assert float(call.cost_usd) == pytest.approx(0.09 * 3.75 + 0.09 * 6.0)  # 1h write = 2 x base input ($6/MTok)


def test_unknown_model_keeps_tokens_and_no_cost(normaliser: Normaliser) -> None:
    attrs = otlp.llm_attributes(
        **{semconv.GEN_AI_REQUEST_MODEL: "no-such-model", semconv.GEN_AI_RESPONSE_MODEL: "no-such-model"}
    )
    [call] = normaliser.batch(_decoded(otlp.span("chat m", attributes=attrs))).llm_calls
    assert (call.input_tokens, call.cost_usd, call.cost_source) == (1200, None, None)


def test_foreign_genai_span_is_an_llm_call_from_otel_genai() -> None:
    attrs = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_SYSTEM: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 10,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
    }
    batch = Normaliser(None).batch(_decoded(otlp.span("chat claude-haiku-4-5", attributes=attrs), scope="some.lib"))
    [call] = batch.llm_calls
    assert (call.source, call.provider, call.request_model) == ("otel-genai", "anthropic", "claude-haiku-4-5")
    assert call.cost_usd is None  # pricing turned off


def test_odd_attribute_values_never_break_the_row() -> None:
    attrs = otlp.llm_attributes(
        **{
            semconv.GEN_AI_USAGE_INPUT_TOKENS: "lots",
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: -5,
            semconv.COST_USD: 1e300,
            semconv.GEN_AI_REQUEST_STREAM: "yes?",
            semconv.TAGS: "single",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: "stop",
        }
    )
    [call] = Normaliser(None).batch(_decoded(otlp.span("chat m", attributes=attrs))).llm_calls
    assert (call.input_tokens, call.output_tokens, call.cost_usd, call.streaming) == (None, None, None, None)
    assert call.tags == ["single"]
    assert call.finish_reasons == ["stop"]


def test_links_are_kept_on_the_span_row() -> None:
    span = otlp.span("consumer")
    link = span.links.add(trace_id=b"\x02" * 16, span_id=b"\x03" * 8)
    link.attributes.extend(otlp.key_values({"why": "batch"}))
    [row] = Normaliser(None).batch(_decoded(span, scope="q")).spans
    assert json.loads(row.attributes)[LINKS_ATTRIBUTE] == [
        {"trace_id": "02" * 16, "span_id": "03" * 8, "attributes": {"why": "batch"}}
    ]


def test_batch_collects_every_day_touched() -> None:
    day = 86_400 * 10**9
    spans = [otlp.span(f"s{i}", start_ns=otlp.T0 + i * day) for i in range(3)]
    batch: Batch = Normaliser(None).batch(_decoded(*spans, scope="q"))
    assert len(batch.days) == 3
    assert len(batch) == 3


def test_streaming_is_false_for_our_non_streaming_calls_and_unknown_for_foreign_ones(normaliser: Normaliser) -> None:
    ours = normaliser.batch(_decoded(otlp.span("chat m", attributes=otlp.llm_attributes())))
    assert ours.llm_calls[0].streaming is False
    streamed = otlp.llm_attributes(**{semconv.GEN_AI_REQUEST_STREAM: True})
    assert normaliser.batch(_decoded(otlp.span("chat m", attributes=streamed))).llm_calls[0].streaming is True
    foreign = normaliser.batch(_decoded(otlp.span("chat m", attributes=otlp.llm_attributes()), scope="other"))
    assert foreign.llm_calls[0].streaming is None


def test_a_span_interop_declines_stays_a_plain_span_even_with_genai_attributes(normaliser: Normaliser) -> None:
    # logfire opens a streaming request with a span that carries GenAI attributes but is not the call itself
    opener = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT, semconv.GEN_AI_PROVIDER_NAME: "anthropic"}
    batch = normaliser.batch(_decoded(otlp.span("Message with {model}", attributes=opener), scope="logfire.anthropic"))
    assert not batch.llm_calls
    assert [row.is_llm for row in batch.spans] == [False]


def test_read_side_facts_fill_their_columns_and_leave_the_attributes(normaliser: Normaliser) -> None:
    attrs = otlp.llm_attributes(
        **{
            semconv.CALL_TYPE: "rag_query",
            semconv.TOOL_CALL_NAMES: ["get_weather", "search"],
            semconv.TOOL_CALL_IDS: ["toolu_1", "toolu_2"],
            semconv.REQUEST_ATTEMPTS: 3,
            semconv.APP_ATTRIBUTE_PREFIX + "tenant_id": "acme",
        }
    )
    [call] = normaliser.batch(_decoded(otlp.span("chat claude-sonnet-4-5", attributes=attrs, kind=3))).llm_calls
    assert (call.call_type, call.tool_names, call.tool_call_ids, call.attempts) == (
        "rag_query",
        ["get_weather", "search"],
        ["toolu_1", "toolu_2"],
        3,
    )
    assert json.loads(call.attributes) == {semconv.APP_ATTRIBUTE_PREFIX + "tenant_id": "acme"}


def test_app_attributes_holding_json_text_stay_as_given(normaliser: Normaliser) -> None:
    key = semconv.APP_ATTRIBUTE_PREFIX + "customer"
    given = '{"id":"c_9","plan":"pro"}'
    listed = semconv.APP_ATTRIBUTE_PREFIX + "regions"
    attrs = otlp.llm_attributes(**{key: given, listed: '["eu","us"]'})
    [call] = normaliser.batch(_decoded(otlp.span("chat claude-sonnet-4-5", attributes=attrs, kind=3))).llm_calls
    assert json.loads(call.attributes) == {key: given, listed: '["eu","us"]'}


def test_token_counting_is_never_priced_even_with_a_sent_cost(normaliser: Normaliser) -> None:
    attrs = otlp.llm_attributes(
        **{
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_COUNT_TOKENS,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: None,
            semconv.COST_USD: 0.004,
            semconv.COST_SOURCE: "genai-prices 0.2.3",
        }
    )
    attrs = {key: value for key, value in attrs.items() if value is not None}
    [call] = normaliser.batch(_decoded(otlp.span("count_tokens claude-sonnet-4-5", attributes=attrs))).llm_calls
    assert (call.operation, call.input_tokens) == ("count_tokens", 1200)
    assert (call.cost_usd, call.cost_source) == (None, None)
    # the same tokens on a chat call are priced
    chat = {**attrs, semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT}
    del chat[semconv.COST_USD]
    [priced] = normaliser.batch(_decoded(otlp.span("chat claude-sonnet-4-5", attributes=chat))).llm_calls
    assert priced.cost_usd is not None
    assert priced.cost_usd > 0


def test_a_peers_tool_calls_come_from_its_output_content(normaliser: Normaliser) -> None:
    attrs = {
        semconv.GEN_AI_SYSTEM: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
        "llm.request.type": "chat",
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.finish_reason": "tool_use",
        "gen_ai.completion.0.tool_calls.0.id": "toolu_01",
        "gen_ai.completion.0.tool_calls.0.name": "get_weather",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
    }
    spans = _decoded(
        otlp.span("anthropic.chat", attributes=attrs, kind=3), scope="opentelemetry.instrumentation.anthropic"
    )
    [call] = normaliser.batch(spans).llm_calls
    assert call.source == "openllmetry"
    assert (call.tool_names, call.tool_call_ids, call.attempts, call.call_type) == (
        ["get_weather"],
        ["toolu_01"],
        None,
        None,
    )
