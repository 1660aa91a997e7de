"""extract: SDK shapes (objects and dicts) to records, sentinels dropped, stream accounting."""

from __future__ import annotations

from types import SimpleNamespace as NS

import anthropic
import httpx
import pytest

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic import extract


@pytest.fixture
def messages_resource():
    client = anthropic.Anthropic(api_key="k", base_url="http://llm.internal:8080")
    yield client.messages
    client.close()


def test_chat_request(messages_resource):
    request = extract.chat_request(
        messages_resource,
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [],
            "stop_sequences": ["x", "y"],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "extra_body": {"temperature": 0, "top_k": 5},
            "top_p": anthropic.NOT_GIVEN,
        },
        stream=True,
    )
    a = request.attributes
    assert (request.operation, request.model, request.stream) == ("chat", "claude-haiku-4-5", True)
    assert (a[semconv.SERVER_ADDRESS], a[semconv.SERVER_PORT]) == ("llm.internal", 8080)
    assert (request.server_address, request.server_port) == ("llm.internal", 8080)
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.0
    assert a[semconv.GEN_AI_REQUEST_TOP_K] == 5.0
    assert semconv.GEN_AI_REQUEST_TOP_P not in a
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("x", "y")
    assert a[anthropic_contract.THINKING_BUDGET] == 2048
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True


def test_chat_request_drops_wrongly_typed_values(messages_resource):
    request = extract.chat_request(
        messages_resource, {"model": anthropic.NOT_GIVEN, "max_tokens": True, "stop_sequences": "END"}, stream=False
    )
    assert request.model is None
    for name in (
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_REQUEST_MAX_TOKENS,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
    ):
        assert name not in request.attributes
    assert semconv.GEN_AI_REQUEST_STREAM not in request.attributes


def test_server_defaults_port_from_scheme():
    assert extract.server_of(NS(base_url=httpx.URL("https://api.example.com"))) == ("api.example.com", 443)
    assert extract.server_of(NS(base_url=httpx.URL("http://h"))) == ("h", 80)
    assert extract.server_of(NS()) == (None, None)


def test_message_response_from_a_dict_with_cache_breakdown():
    response = extract.message_response(
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
    assert (response.id, response.model, response.stop_reason) == ("msg_1", "claude-haiku-4-5", "max_tokens")
    assert (response.input_tokens, response.output_tokens, response.cache_read_tokens) == (5, 9, 100)
    assert (response.cache_write_5m_tokens, response.cache_write_1h_tokens) == (10, 20)
    assert response.reasoning_tokens == 4
    assert response.service_tier == "priority"


_USAGES = [
    {"input_tokens": 5, "output_tokens": 9},
    {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 30},
    {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": None, "service_tier": "batch"},
    {
        "input_tokens": 5,
        "output_tokens": 9,
        "cache_creation_input_tokens": 30,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
    },
]


def _namespace(value):
    """The same data in a shape that is neither a dict nor a pydantic model (the general path)."""
    if isinstance(value, dict):
        return NS(**{key: _namespace(item) for key, item in value.items()})
    return value


def _message(usage, *, content, stop_reason):
    """A Messages API message (wire form) with `usage`."""
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


@pytest.mark.parametrize("usage", _USAGES)
def test_message_response_reads_sdk_objects_dicts_and_other_shapes_alike(usage):
    data = _message(usage, content=[{"type": "text", "text": "hi"}], stop_reason="end_turn")
    sdk_message = anthropic.types.Message.model_validate(data)
    general = extract.message_response(_namespace(data))
    assert general is not None
    for shape in (sdk_message, data):
        response = extract.message_response(shape)
        assert response is not None
        assert response.message is shape
        response.message = general.message
        assert response == general


@pytest.mark.parametrize("usage", _USAGES)
def test_message_accumulator_reads_sdk_events_and_other_shapes_alike(usage):
    start = {"type": "message_start", "message": _message({**usage, "output_tokens": 1}, content=[], stop_reason=None)}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage}
    sdk_events = [
        anthropic.types.RawMessageStartEvent.model_validate(start),
        anthropic.types.RawMessageDeltaEvent.model_validate(delta),
    ]
    responses = []
    for events in (sdk_events, [_namespace(start), _namespace(delta)]):
        accumulator = extract.MessageAccumulator(capture=False)
        for event in events:
            accumulator.add(event)
        responses.append(accumulator.response())
    assert responses[0] == responses[1]
    assert (responses[0].input_tokens, responses[0].output_tokens, responses[0].stop_reason) == (5, 9, "end_turn")


def test_cache_write_total_without_breakdown_is_5m():
    response = extract.message_response({"id": "m", "usage": {"input_tokens": 1, "cache_creation_input_tokens": 70}})
    assert response is not None
    assert (response.cache_write_5m_tokens, response.cache_write_1h_tokens) == (70, None)


def test_non_messages_are_not_responses():
    assert extract.message_response(object()) is None
    assert extract.count_tokens_response({"input_tokens": 12}).input_tokens == 12
    assert extract.count_tokens_response({}) is None


def _events(output_tokens: int = 50, *, stop: bool = True):
    yield NS(
        type="message_start",
        message=NS(id="msg_s", model="claude-haiku-4-5", usage=NS(input_tokens=30, output_tokens=1)),
    )
    yield NS(type="content_block_start", index=0, content_block=NS(type="text", text=""))
    yield NS(type="content_block_delta", index=0, delta=NS(type="text_delta", text="Hel"))
    yield NS(type="content_block_delta", index=0, delta=NS(type="text_delta", text="lo"))
    yield NS(type="content_block_stop", index=0)
    yield NS(type="content_block_start", index=1, content_block=NS(type="tool_use", id="t1", name="f", input={}))
    yield NS(type="content_block_delta", index=1, delta=NS(type="input_json_delta", partial_json='{"a": '))
    yield NS(type="content_block_delta", index=1, delta=NS(type="input_json_delta", partial_json="1}"))
    yield NS(
        type="message_delta", delta=NS(stop_reason="tool_use"), usage=NS(output_tokens=output_tokens, input_tokens=None)
    )
    if stop:
        yield NS(type="message_stop")


def test_message_accumulator_counts_the_final_usage_once():
    accumulator = extract.MessageAccumulator(capture=True)
    content_flags = [accumulator.add(event) for event in _events()]
    assert content_flags[:3] == [False, True, True]
    accumulator.finish()
    assert accumulator.complete
    response = accumulator.response()
    assert (response.input_tokens, response.output_tokens) == (30, 50)
    assert (response.id, response.stop_reason) == ("msg_s", "tool_use")
    assert response.message["content"] == [
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ]


def test_message_accumulator_without_capture_or_end():
    accumulator = extract.MessageAccumulator(capture=False)
    for event in _events(stop=False):
        accumulator.add(event)
    accumulator.finish()
    assert not accumulator.complete
    assert accumulator.response().message is None


def test_cut_before_message_delta_has_no_output_count():
    accumulator = extract.MessageAccumulator(capture=False)
    for event in list(_events())[:3]:
        accumulator.add(event)
    response = accumulator.response()
    assert (response.input_tokens, response.output_tokens) == (30, None)


def test_batch_results_accumulator_sums_per_model():
    def item(model: str, inp: int, out: int, kind: str = "succeeded"):
        message = {"id": "m", "model": model, "usage": {"input_tokens": inp, "output_tokens": out}}
        return NS(result=NS(type=kind, message=message if kind == "succeeded" else None))

    accumulator = extract.BatchResultsAccumulator()
    for entry in (item("a", 1, 2), item("b", 10, 20), item("a", 100, 200), item("a", 5, 5, "errored")):
        assert accumulator.add(entry) is False
    accumulator.finish()
    response = accumulator.response()
    assert accumulator.complete
    assert (response.input_tokens, response.output_tokens) == (111, 222)
    assert response.usage_by_model["a"].input_tokens == 101
    assert response.usage_by_model["b"].output_tokens == 20
    assert response.model is None


def test_error_type():
    request = httpx.Request("POST", "http://x/v1/messages")
    response = httpx.Response(529, request=request)
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError("Overloaded", response=response, body=body)
    assert extract.error_type(exc) == "overloaded_error"
    assert extract.error_type(anthropic.APIConnectionError(request=request)) == "anthropic.APIConnectionError"
    assert extract.error_type(ValueError("x")) == "ValueError"
    assert extract.error_type(anthropic.APIStatusError("?", response=response, body="not json")) == (
        "anthropic.APIStatusError"
    )


def test_error_description_is_the_envelope_message_with_the_status():
    request = httpx.Request("POST", "http://x/v1/messages")
    response = httpx.Response(529, request=request)
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = anthropic.APIStatusError("Error code: 529 - {...}", response=response, body=body)
    assert extract.error_description(exc) == "Overloaded (HTTP 529)"
    assert extract.error_description(ValueError("plain")) == "plain"
    assert extract.error_description(anthropic.APIStatusError("raw", response=response, body="not json")) == "raw"
