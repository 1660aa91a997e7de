"""accumulator: a Messages stream's events to one `Response`, the final usage counted once, content kept only when
captured."""

from __future__ import annotations

from types import SimpleNamespace as NS

import anthropic
import pytest
from anthropic._models import construct_type

from tests.fixtures.spans import USAGES, namespace, wire_message
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic.accumulator import NO_FAST_PATH, MessageAccumulator, fast_path


@pytest.mark.parametrize("usage", USAGES)
def test_message_accumulator_reads_sdk_events_and_other_shapes_alike(usage):
    start = {
        "type": "message_start",
        "message": wire_message({**usage, "output_tokens": 1}, content=[], stop_reason=None),
    }
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage}
    sdk_events = [
        anthropic.types.RawMessageStartEvent.model_validate(start),
        anthropic.types.RawMessageDeltaEvent.model_validate(delta),
    ]
    responses = []
    for events in (sdk_events, [namespace(start), namespace(delta)]):
        accumulator = MessageAccumulator(capture=False)
        for event in events:
            accumulator.add(event)
        responses.append(accumulator.response())
    assert responses[0] == responses[1]
    a = responses[0].attributes
    assert (a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS], a[anthropic_contract.STOP_REASON]) == (9, "end_turn")
    assert responses[0].finish_reason == "stop"
    assert (responses[0].usage.input_tokens, responses[0].usage.output_tokens) == (5, 9)


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
    accumulator = MessageAccumulator(capture=True)
    content_flags = [accumulator.add(event) for event in _events()]
    assert content_flags[:3] == [False, True, True]
    accumulator.finish()
    assert accumulator.complete
    response = accumulator.response()
    a = response.attributes
    assert (a[semconv.GEN_AI_USAGE_INPUT_TOKENS], a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 50)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 50)
    assert (response.id, a[anthropic_contract.STOP_REASON], response.finish_reason) == (
        "msg_s",
        "tool_use",
        "tool_call",
    )
    assert response.message["content"] == [
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ]


def test_message_accumulator_without_capture_or_end():
    accumulator = MessageAccumulator(capture=False)
    for event in _events(stop=False):
        accumulator.add(event)
    accumulator.finish()
    assert not accumulator.complete
    assert accumulator.response().message is None


def test_cut_before_message_delta_has_no_output_count():
    accumulator = MessageAccumulator(capture=False)
    for event in list(_events())[:3]:
        accumulator.add(event)
    response = accumulator.response()
    assert response.attributes == {semconv.GEN_AI_USAGE_INPUT_TOKENS: 30}
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 0)


_STREAM = [
    {
        "type": "message_start",
        "message": wire_message({"input_tokens": 30, "output_tokens": 1}, content=[], stop_reason=None),
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 7},
    },
    {"type": "message_stop"},
]
"""A stream of three blocks (thinking, text, a tool call), as the API sends it."""


def _accumulate(events, **options):
    accumulator = MessageAccumulator(capture=True, **options)
    flags = [accumulator.add(event) for event in events]
    return flags, accumulator.response()


@pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta-messages"])
def test_the_fast_path_reads_the_sdk_events_as_the_general_path_does(beta):
    """The class check of the SDK's delta events (plain and beta) gives what reading their `type` strings gives."""
    union = anthropic.types.beta.BetaRawMessageStreamEvent if beta else anthropic.types.RawMessageStreamEvent
    events = [construct_type(type_=union, value=event) for event in _STREAM]
    fast = fast_path()
    assert type(events[6]) in fast.delta_events
    assert type(events[6].delta) in fast.text_deltas
    fast_flags, fast_response = _accumulate(events, fast=fast)
    general_flags, general_response = _accumulate(events, fast=NO_FAST_PATH)
    assert (fast_flags, fast_response) == (general_flags, general_response)
    assert fast_response == _accumulate([namespace(event) for event in _STREAM])[1]
    assert fast_response.message["content"] == [
        {"type": "thinking", "thinking": "Let me think."},
        {"type": "text", "text": "Hello"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ]


def test_an_sdk_delta_event_missing_a_field_keeps_its_text():
    """The SDK builds events without validating them: a delta without its index still lands in the last block."""
    sdk = anthropic.types
    events = [construct_type(type_=sdk.RawMessageStreamEvent, value=event) for event in _STREAM[:2] + _STREAM[5:6]]
    events.append(
        sdk.RawContentBlockDeltaEvent.model_construct(
            type="content_block_delta", delta=sdk.TextDelta(type="text_delta", text="no index")
        )
    )
    events.append(sdk.RawContentBlockDeltaEvent.model_construct(type="content_block_delta", index=1))  # no delta
    flags, response = _accumulate(events, fast=fast_path())
    assert flags[-2:] == [True, True]
    assert response.message["content"] == [{"type": "thinking", "thinking": ""}, {"type": "text", "text": "no index"}]
