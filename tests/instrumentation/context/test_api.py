"""`tokentrail.attributes()` / `tokentrail.workflow()`: their arguments (call type, structured values)."""

from __future__ import annotations

import json
from datetime import date

import pytest

import tokentrail
from tests.fixtures.spans import MODEL, USER, attrs, llm_spans
from tokentrail.contract import semconv
from tokentrail.instrumentation import context
from tokentrail.instrumentation.context import current_attributes


def test_workflow_name_must_be_given() -> None:
    with pytest.raises(ValueError, match="workflow name"):
        tokentrail.workflow("")


def test_call_type_is_its_own_attribute_and_the_innermost_wins() -> None:
    with tokentrail.attributes(call_type="rag_query", user_id="u"):
        assert current_attributes()[semconv.CALL_TYPE] == "rag_query"
        with tokentrail.attributes(call_type="summarization"):
            assert current_attributes()[semconv.CALL_TYPE] == "summarization"
        assert current_attributes()[semconv.CALL_TYPE] == "rag_query"
        assert semconv.APP_ATTRIBUTE_PREFIX + "call_type" not in current_attributes()
    with tokentrail.workflow("answer", call_type="chat_turn"):
        assert current_attributes()[semconv.CALL_TYPE] == "chat_turn"


def test_structured_values_are_compact_json_and_scalars_keep_their_type() -> None:
    with tokentrail.attributes(
        metadata={"plan": "pro", "seats": 3, "at": date(2026, 1, 2)},
        ids=[1, 2],
        pair=("a", 1),
        regions=["eu", "us"],
        flag=True,
        count=7,
        ratio=0.5,
    ):
        a = current_attributes()
    app = semconv.APP_ATTRIBUTE_PREFIX
    assert a[app + "metadata"] == '{"at":"2026-01-02","plan":"pro","seats":3}'
    assert json.loads(str(a[app + "metadata"])) == {"at": "2026-01-02", "plan": "pro", "seats": 3}
    assert a[app + "ids"] == "[1,2]"
    assert a[app + "pair"] == '["a",1]'
    assert a[app + "regions"] == ("eu", "us")  # a list of strings stays a string array
    assert (a[app + "flag"], a[app + "count"], a[app + "ratio"]) == (True, 7, 0.5)


@pytest.mark.usefixtures("instrumented")
def test_llm_spans_carry_the_call_type_and_the_workflow_span_does_not(
    anthropic_client, span_exporter, standin, tracer_provider
):
    context.set_tracer_provider(tracer_provider)
    try:
        with tokentrail.workflow("answer", call_type="chat_turn"):
            anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
            with tokentrail.attributes(call_type="rag_query", metadata={"plan": "pro"}):
                anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    finally:
        context.set_tracer_provider(None)
    outer, inner = llm_spans(span_exporter)
    assert attrs(outer)[semconv.CALL_TYPE] == "chat_turn"
    assert attrs(inner)[semconv.CALL_TYPE] == "rag_query"
    assert attrs(inner)[semconv.APP_ATTRIBUTE_PREFIX + "metadata"] == '{"plan":"pro"}'
    (workflow,) = [s for s in span_exporter.get_finished_spans() if s.name == "invoke_workflow answer"]
    assert semconv.CALL_TYPE not in attrs(workflow)
    assert attrs(workflow)[semconv.WORKFLOW_NAME] == "answer"
