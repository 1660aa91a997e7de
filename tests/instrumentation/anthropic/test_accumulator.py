"""accumulator: a Messages stream's events to one `Response`, the final usage counted once, content kept only when
captured."""

from __future__ import annotations

from types import SimpleNamespace as NS

import anthropic
import pytest

from tests.fixtures.spans import USAGES, namespace, wire_message
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic.accumulator import MessageAccumulator


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
