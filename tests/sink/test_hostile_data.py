"""Hostile data through the real sink into real Postgres: no value may make the database refuse a batch.

A value Postgres refuses (an index row over the btree limit, NUL, an unpaired surrogate, a sum out of range) must
never turn into 503 for the whole request: the collector would resend it for ever, blocking its queue and every
valid span in it. Each test sends valid spans alongside the hostile one and checks that all of them are stored.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

import httpx
import psycopg
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.fixtures import otlp
from tests.fixtures.sink import SinkFactory
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.sink.background import BackgroundSink
from tokentrail.sink.decode import Format, media_format
from tokentrail.sink.values import IDENTIFIER_MAX

pytestmark = pytest.mark.postgres


def post(sink: BackgroundSink, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(sink.traces_url, content=body, headers=headers or otlp.PROTOBUF, timeout=30)


def partial(response: httpx.Response) -> tuple[int, str]:
    """(rejected spans, error message) of a 200 answer, in either encoding."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    if media_format(response.headers["content-type"]) is Format.JSON:
        document = response.json().get("partialSuccess", {})
        return int(document.get("rejectedSpans", 0)), str(document.get("errorMessage", ""))
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    return answer.partial_success.rejected_spans, answer.partial_success.error_message


def incompressible(length: int, seed: int = 7) -> str:
    """Text that TOAST cannot compress below the btree limit (a repeated letter would compress to nothing)."""
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def llm_row(database_url: str, span_id: bytes) -> dict[str, Any]:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute("SELECT * FROM llm_calls WHERE span_id = %s", (span_id.hex(),)).fetchone()
    assert row is not None, "the call has no llm_calls row"
    return row


@pytest.mark.parametrize(
    "key",
    [
        semconv.USER_ID,
        semconv.SESSION_ID,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.PROMPT_NAME,
        semconv.PROMPT_VERSION,
        semconv.WORKFLOW_NAME,
        semconv.GEN_AI_CONVERSATION_ID,
        semconv.ERROR_TYPE,
    ],
)
def test_an_oversized_identifier_is_cut_and_kept_whole_in_attributes(
    sink: BackgroundSink, database_url: str, key: str
) -> None:
    huge = incompressible(6000)
    trace_id, _ = otlp.new_ids()
    hostile = otlp.span("chat", trace_id=trace_id, attributes=otlp.llm_attributes(**{key: huge}))
    valid = [otlp.span("chat", trace_id=trace_id, attributes=otlp.llm_attributes()) for _ in range(3)]
    response = post(sink, otlp.body(otlp.request([*valid, hostile])))
    assert response.status_code == 200, response.text
    assert partial(response) == (0, "")
    assert otlp.count(database_url, "spans") == 4
    assert otlp.count(database_url, "llm_calls") == 4
    row = llm_row(database_url, hostile.span_id)
    column = {
        semconv.USER_ID: "user_id",
        semconv.SESSION_ID: "session_id",
        semconv.GEN_AI_REQUEST_MODEL: "request_model",
        semconv.PROMPT_NAME: "prompt_name",
        semconv.PROMPT_VERSION: "prompt_version",
        semconv.WORKFLOW_NAME: "workflow_name",
        semconv.GEN_AI_CONVERSATION_ID: "conversation_id",
        semconv.ERROR_TYPE: "error_type",
    }[key]
    assert row[column] == huge[: IDENTIFIER_MAX - 1] + "…"
    assert row["attributes"][key] == huge


def test_an_index_breaking_value_does_not_turn_the_next_requests_away(sink: BackgroundSink, database_url: str) -> None:
    """The breaker is for a lost database, not for data: the requests right after a hostile one are stored."""
    hostile = otlp.span("chat", attributes=otlp.llm_attributes(**{semconv.USER_ID: incompressible(1 << 20)}))
    assert post(sink, otlp.body(otlp.request([hostile]))).status_code == 200
    for _ in range(5):
        valid = otlp.span("chat", attributes=otlp.llm_attributes())
        assert post(sink, otlp.body(otlp.request([valid]))).status_code == 200
    assert otlp.count(database_url, "llm_calls") == 6


def test_a_long_span_name_and_service_are_cut_and_the_name_kept(sink: BackgroundSink, database_url: str) -> None:
    name = incompressible(5000, seed=3)
    work = otlp.span(name)
    response = post(sink, otlp.body(otlp.request([work], service=incompressible(5000, seed=4))))
    assert response.status_code == 200
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT name, service_name, attributes FROM spans").fetchone()
    assert stored is not None
    assert len(stored[0]) == IDENTIFIER_MAX
    assert stored[0].endswith("…")
    assert len(stored[1]) == IDENTIFIER_MAX
    assert stored[2]["tokentrail.span.name"] == name


def test_nul_inside_decoded_json_attributes_is_replaced_not_rejected(sink: BackgroundSink, database_url: str) -> None:
    """An otel-genai span whose finish reasons are a JSON array string with an escaped NUL, and an OpenInference
    span with one inside `llm.invocation_parameters`: both decode to text Postgres cannot hold."""
    trace_id, _ = otlp.new_ids()
    genai = otlp.span(
        "chat claude",
        trace_id=trace_id,
        attributes=otlp.llm_attributes(**{semconv.GEN_AI_RESPONSE_FINISH_REASONS: '["stop\\u0000x"]'}),
    )
    openinference = otlp.span(
        "Messages",  # in a trace of its own: two sources' co-timed spans in one trace would be one call
        attributes={
            "openinference.span.kind": "LLM",
            "llm.provider": "anthropic",
            "llm.model_name": "claude-sonnet-4-5",
            "llm.invocation_parameters": '{"max_tokens": 100, "stop_sequences": ["a\\u0000b"], "x\\u0000": 1}',
            "llm.token_count.prompt": 10,
            "llm.token_count.completion": 5,
        },
    )
    valid = otlp.span("chat", trace_id=trace_id, attributes=otlp.llm_attributes())
    request = otlp.request([genai, valid], scope="opentelemetry.instrumentation.genai.anthropic")
    other = otlp.request([openinference], scope="openinference.instrumentation.x")
    request.resource_spans.extend(other.resource_spans)
    response = post(sink, otlp.body(request))
    assert response.status_code == 200
    assert partial(response) == (0, "")
    assert otlp.count(database_url, "spans") == 3
    assert otlp.count(database_url, "llm_calls") == 3
    assert llm_row(database_url, genai.span_id)["finish_reasons"] == ["stop\ufffdx"]
    params = llm_row(database_url, openinference.span_id)["attributes"]
    assert "\x00" not in json.dumps(params, ensure_ascii=False)
    assert params[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ["a\ufffdb"]


def test_a_lone_surrogate_inside_decoded_content_is_replaced(sink: BackgroundSink, database_url: str) -> None:
    """An OpenInference request body (`input.value`, JSON text) holding an unpaired surrogate escape: the content
    blob and the attributes are stored with U+FFFD, and the batch's other spans with them."""
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.provider": "anthropic",
        "llm.model_name": "claude-sonnet-4-5",
        "input.value": '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi \\ud800 there"}]}',
        "llm.invocation_parameters": '{"metadata": {"k\\udc00": "v\\ud83d"}}',
    }
    hostile = otlp.span("Messages", attributes=attributes)
    valid = otlp.span("Messages", attributes={**attributes, "input.value": '{"messages": []}'})
    response = post(sink, otlp.body(otlp.request([hostile, valid], scope="openinference.instrumentation.x")))
    assert response.status_code == 200
    assert partial(response) == (0, "")
    assert otlp.count(database_url, "llm_calls") == 2
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT b.body FROM llm_calls c JOIN content_blobs b ON b.sha256 = c.input_sha256 WHERE c.span_id = %s",
            (hostile.span_id.hex(),),
        ).fetchone()
    assert found is not None
    assert "hi \ufffd there" in json.loads(found[0])[0]["parts"][0]["content"]


def test_an_impossible_token_count_is_dropped_with_a_warning_and_the_views_answer(
    sink: BackgroundSink, database_url: str
) -> None:
    absurd = 2**63 - 1
    hostile = otlp.span(
        "chat", attributes=otlp.llm_attributes(**{semconv.GEN_AI_USAGE_INPUT_TOKENS: absurd, semconv.USER_ID: "u"})
    )
    valid = otlp.span("chat", attributes=otlp.llm_attributes(**{semconv.USER_ID: "u"}))
    response = post(sink, otlp.body(otlp.request([hostile, valid])))
    assert response.status_code == 200
    rejected, message = partial(response)
    assert rejected == 0
    assert "gen_ai.usage.input_tokens" in message
    assert "impossible" in message
    row = llm_row(database_url, hostile.span_id)
    assert row["input_tokens"] is None
    assert row["output_tokens"] == 300
    assert row["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == absurd
    with psycopg.connect(database_url) as conn:
        for view in ("llm_daily_cost", "llm_cost_by_user", "llm_cache_daily"):
            assert conn.execute(f"SELECT sum(input_tokens) FROM {view}").fetchone() == (1200,)


def test_an_impossible_cost_is_dropped_and_the_call_priced_from_its_tokens(
    sink: BackgroundSink, database_url: str
) -> None:
    hostile = otlp.span("chat", attributes=otlp.llm_attributes(**{semconv.COST_USD: 1e300}))
    response = post(sink, otlp.body(otlp.request([hostile])))
    assert response.status_code == 200
    assert "gen_ai.usage.cost" in partial(response)[1]
    row = llm_row(database_url, hostile.span_id)
    assert row["cost_source"].startswith("sink:")
    assert 0 < row["cost_usd"] < 1


def test_the_views_sum_counts_beyond_bigint(sink: BackgroundSink, database_url: str) -> None:
    """Rows stored before the door's bounds existed (or written by hand) must not break a day's totals."""
    spans = [otlp.span("chat", attributes=otlp.llm_attributes()) for _ in range(3)]
    assert post(sink, otlp.body(otlp.request(spans))).status_code == 200
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE llm_calls SET input_tokens = 4611686018427387904, cache_read_tokens = input_tokens")
        for view in ("llm_daily_cost", "llm_cost_by_user", "llm_cache_daily"):
            total = conn.execute(f"SELECT sum(input_tokens) FROM {view}").fetchone()
            assert total == (3 * 4611686018427387904,)


# --- a seeded, bounded fuzz of hostile values through the whole server ----------------------------------------------

_HOSTILE_TEXT = [
    "\x00",
    "a\x00b",
    "\\u0000",
    '["x\\u0000"]',
    '{"k": "\\ud800"}',
    '[{"type": "text", "text": "\\udfff"}]',
    "\ufffd",
    "<script>alert(1)</script>",
    "😀" * 700,
    "",
    " ",
]
_HOSTILE_NUMBERS: list[Any] = [0, -1, 2**63 - 1, -(2**63), 1e308, -1e308, float("nan"), float("inf"), 0.5, 10**12 + 1]
_KEYS = [
    semconv.USER_ID,
    semconv.SESSION_ID,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.GEN_AI_RESPONSE_ID,
    semconv.GEN_AI_RESPONSE_FINISH_REASONS,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.COST_USD,
    semconv.TAGS,
    semconv.PROMPT_NAME,
    semconv.ERROR_TYPE,
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_REQUEST_STREAM,
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    "input.value",
    "llm.invocation_parameters",
    "gen_ai.usage.raw",
    "\x00key",
]
_SCOPES = [
    anthropic_contract.INSTRUMENTATION_SCOPE,
    anthropic_contract.SDK_NATIVE_SCOPE,
    "opentelemetry.instrumentation.anthropic",
    "openinference.instrumentation.anthropic",
    "opentelemetry.instrumentation.genai.anthropic",
    "openlit.otel.tracing",
    "logfire",
]


def _hostile_value(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.45:
        return rng.choice(_HOSTILE_TEXT) + rng.choice(["", incompressible(rng.choice([10, 3000]), rng.randrange(99))])
    if pick < 0.75:
        return rng.choice(_HOSTILE_NUMBERS)
    if pick < 0.9:
        return [rng.choice(_HOSTILE_TEXT) for _ in range(rng.randrange(1, 4))]
    return rng.choice([True, False])


def _hostile_span(rng: random.Random) -> Span:
    attributes = otlp.llm_attributes()
    for key in rng.sample(_KEYS, rng.randrange(1, 5)):
        attributes[key] = _hostile_value(rng)
    if rng.random() < 0.3:
        attributes["openinference.span.kind"] = "LLM"
    name = rng.choice(["chat claude", "anthropic.messages.create", "anthropic.chat", rng.choice(_HOSTILE_TEXT)])
    return otlp.span(name, attributes=attributes, status_code=rng.choice([0, 1, 2]))


def test_fuzz_hostile_values_never_block_valid_spans(sink_factory: SinkFactory, database_url: str) -> None:
    """120 requests of 1 valid + 2 hostile spans from seeded random scopes and values: every answer is 200 with
    nothing rejected, every span is stored, and the database is never reported unavailable."""
    sink = sink_factory()
    rng = random.Random(20261202)
    sent = 0
    for _ in range(120):
        spans = [otlp.span("chat", attributes=otlp.llm_attributes()), _hostile_span(rng), _hostile_span(rng)]
        response = post(sink, otlp.body(otlp.request(spans, scope=rng.choice(_SCOPES))))
        assert response.status_code == 200, response.text
        assert partial(response)[0] == 0, partial(response)
        sent += len(spans)
    assert otlp.count(database_url, "spans") == sent
    assert otlp.count(database_url, "llm_calls") >= 120
