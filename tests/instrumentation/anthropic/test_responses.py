"""responses: Anthropic results to the recorder's neutral `Response` (the finish reason, the token arithmetic, the
usage to price), from SDK objects, dicts and other shapes alike."""

from __future__ import annotations

import anthropic
import pytest

from tests.fixtures.spans import MODEL, USAGES, namespace, wire_message
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic import responses
from tokentrail.instrumentation.recorder.recorder import Recorder
from tokentrail.instrumentation.recorder.records import Request
from tokentrail.pricing import PriceBook, Usage


def test_message_response_from_a_dict_with_cache_breakdown():
    response = responses.message_response(
        {
            "id": "msg_1",
            "model": "claude-haiku-4-5",
            "stop_reason": "max_tokens",
            "usage": {
                "input_tokens": 5,
                "output_tokens": 9,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 30,
                "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
                "output_tokens_details": {"thinking_tokens": 4},
                "service_tier": "priority",
            },
        }
    )
    assert response is not None
    assert (response.id, response.model, response.finish_reason) == ("msg_1", "claude-haiku-4-5", "length")
    assert response.attributes == {
        anthropic_contract.STOP_REASON: "max_tokens",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 135,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 9,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 30,
        anthropic_contract.CACHE_WRITE_5M: 10,
        anthropic_contract.CACHE_WRITE_1H: 20,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 4,
        anthropic_contract.SERVICE_TIER: "priority",
    }
    assert response.usage == Usage(
        input_tokens=5, output_tokens=9, cache_read_tokens=100, cache_write_5m_tokens=10, cache_write_1h_tokens=20
    )


@pytest.mark.parametrize("usage", USAGES)
def test_message_response_reads_sdk_objects_dicts_and_other_shapes_alike(usage):
    data = wire_message(usage, content=[{"type": "text", "text": "hi"}], stop_reason="end_turn")
    sdk_message = anthropic.types.Message.model_validate(data)
    general = responses.message_response(namespace(data))
    assert general is not None
    for shape in (sdk_message, data):
        response = responses.message_response(shape)
        assert response is not None
        assert response.message is shape
        response.message = general.message
        assert response == general


def test_cache_write_total_without_breakdown_is_5m():
    response = responses.message_response({"id": "m", "usage": {"input_tokens": 1, "cache_creation_input_tokens": 70}})
    assert response is not None
    assert response.usage is not None
    assert (response.usage.cache_write_5m_tokens, response.usage.cache_write_1h_tokens) == (70, 0)
    assert response.attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 70
    assert response.attributes[anthropic_contract.CACHE_WRITE_5M] == 70
    assert response.attributes[anthropic_contract.CACHE_WRITE_1H] == 0


def test_non_messages_are_not_responses():
    assert responses.message_response(object()) is None
    counted = responses.count_tokens_response({"input_tokens": 12})
    assert counted is not None
    assert counted.attributes == {semconv.GEN_AI_USAGE_INPUT_TOKENS: 12}
    assert responses.count_tokens_response({}) is None


def test_merge_usage_replaces_counts_and_keeps_the_missing_ones():
    earlier = anthropic_contract.Usage(input_tokens=30, output_tokens=1, cache_read_tokens=5, service_tier="standard")
    later = anthropic_contract.Usage(output_tokens=50, cache_read_tokens=7)
    assert responses.merge_usage(earlier, later) == anthropic_contract.Usage(30, 50, 7, None, None, None, "standard")
    assert responses.merge_usage(None, later) is later
    assert responses.merge_usage(earlier, None) is earlier


def test_merge_usage_keeps_the_ttl_breakdown_when_a_later_total_has_none():
    """message_start has the breakdown (1000 5m + 2000 1h); message_delta only the cumulative total (3000)."""
    start = anthropic_contract.read_usage(
        {
            "input_tokens": 10,
            "output_tokens": 1,
            "cache_creation_input_tokens": 3000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        }
    )
    delta = anthropic_contract.read_usage({"output_tokens": 40, "cache_creation_input_tokens": 3000})
    merged = responses.merge_usage(start, delta)
    assert merged is not None
    assert (merged.cache_write_5m_tokens, merged.cache_write_1h_tokens, merged.output_tokens) == (1000, 2000, 40)


def test_usage_and_cost_through_the_recorder(tracer_provider, span_exporter):
    """The contract's values for Anthropic counts, end to end: input = uncached + cache read + cache writes."""
    recorder = Recorder(tracer_provider.get_tracer("t"), pricebook=PriceBook())
    call = recorder.start(Request(semconv.OP_CHAT, MODEL, {}, anthropic_contract.PROVIDER))
    usage = anthropic_contract.Usage(
        input_tokens=1000,
        output_tokens=100,
        cache_read_tokens=10_000,
        cache_write_5m_tokens=2000,
        cache_write_1h_tokens=3000,
        reasoning_tokens=40,
    )
    call.stop(responses.response_of(None, MODEL, "end_turn", usage))
    (span,) = span_exporter.get_finished_spans()
    a = dict(span.attributes)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 16_000
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10_000
    assert a[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 5000
    assert (a[anthropic_contract.CACHE_WRITE_5M], a[anthropic_contract.CACHE_WRITE_1H]) == (2000, 3000)
    assert a[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 40
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[anthropic_contract.STOP_REASON] == "end_turn"
    assert a[semconv.COST_USD] == pytest.approx((1000 + 500 + 1000 * 0.1 * 10 + 2000 * 1.25 + 3000 * 2) / 1e6)


def test_tool_calls_from_a_dict_in_response_order_and_only_when_present():
    content = [
        {"type": "text", "text": "Looking."},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "tool_use", "name": "lookup", "input": {}},  # no id: kept index for index as ""
    ]
    message = {"id": "msg_1", "model": MODEL, "stop_reason": "tool_use", "usage": {"input_tokens": 1}}
    response = responses.message_response({**message, "content": content})
    assert response is not None
    assert response.attributes is not None
    assert response.attributes[semconv.TOOL_CALL_NAMES] == ("web_search", "lookup")
    assert response.attributes[semconv.TOOL_CALL_IDS] == ("srvtoolu_1", "")
    plain = responses.message_response({**message, "content": [{"type": "text", "text": "No tools."}]})
    assert plain is not None
    assert plain.attributes is not None
    assert semconv.TOOL_CALL_NAMES not in plain.attributes
    assert semconv.TOOL_CALL_IDS not in plain.attributes
