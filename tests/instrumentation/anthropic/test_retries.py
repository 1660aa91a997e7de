"""retries: the SDK's own retries as `tokentrail.retry` events and `tokentrail.request.attempts` on the call's
span, with the real SDK against the stand-in (its error replies carry `retry-after-ms: 1`, so retries do not wait).
"""

from __future__ import annotations

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from tests.fixtures.spans import MODEL, USER, attrs, only_span
from tokentrail.contract import semconv
from tokentrail.dev.standin import ErrorReply, MessageReply, TextBlock
from tokentrail.instrumentation.anthropic import retries

OK = MessageReply(content=[TextBlock("fine")])


def retry_events(span):
    return [event for event in span.events if event.name == semconv.RETRY_EVENT]


@pytest.mark.usefixtures("instrumented")
def test_a_call_that_succeeds_after_retries_stays_ok(anthropic_client, span_exporter, standin):
    standin.enqueue(ErrorReply.rate_limit(), ErrorReply.overloaded(), OK)
    anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    a = attrs(span)
    assert a[semconv.REQUEST_ATTEMPTS] == 3
    assert semconv.ERROR_TYPE not in a
    events = retry_events(span)
    assert [dict(e.attributes) for e in events] == [
        {
            semconv.ERROR_TYPE: "rate_limit_error",
            semconv.HTTP_RESPONSE_STATUS_CODE: 429,
            semconv.RETRY_ATTEMPT: 1,
            semconv.RETRY_WAIT: pytest.approx(0.001),
        },
        {
            semconv.ERROR_TYPE: "overloaded_error",
            semconv.HTTP_RESPONSE_STATUS_CODE: 529,
            semconv.RETRY_ATTEMPT: 2,
            semconv.RETRY_WAIT: pytest.approx(0.001),
        },
    ]


@pytest.mark.usefixtures("instrumented")
def test_a_call_that_exhausts_its_retries_is_an_error(anthropic_client, span_exporter, standin):
    standin.enqueue(ErrorReply.overloaded(), ErrorReply.overloaded(), ErrorReply.overloaded())
    with pytest.raises(anthropic.APIStatusError):  # OverloadedError; its base differs across SDK generations
        anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    a = attrs(span)
    assert a[semconv.REQUEST_ATTEMPTS] == anthropic_client.max_retries + 1 == 3
    assert a[semconv.ERROR_TYPE] == "overloaded_error"
    assert [e.attributes[semconv.RETRY_ATTEMPT] for e in retry_events(span)] == [1, 2]


@pytest.mark.usefixtures("instrumented")
def test_no_retry_no_attempts_attribute(anthropic_client, span_exporter, standin):
    standin.enqueue(ErrorReply.invalid_request(), OK)
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    for span in span_exporter.get_finished_spans():
        assert semconv.REQUEST_ATTEMPTS not in attrs(span)
        assert retry_events(span) == []


@pytest.mark.usefixtures("instrumented")
def test_a_connection_failure_that_is_retried(standin, span_exporter):
    """Nothing listens at the base URL: every attempt fails without a response (one retry, after the SDK's backoff)."""
    client = anthropic.Anthropic(api_key="test", base_url="http://127.0.0.1:9", max_retries=1)
    with client, pytest.raises(anthropic.APIConnectionError):
        client.with_options(timeout=2.0).messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(span_exporter)
    assert attrs(span)[semconv.REQUEST_ATTEMPTS] == 2
    (event,) = retry_events(span)
    assert event.attributes[semconv.RETRY_ATTEMPT] == 1
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in event.attributes
    assert event.attributes[semconv.RETRY_WAIT] >= 0


@pytest.mark.usefixtures("instrumented")
async def test_async_streamed_call_with_a_retry(async_anthropic_client, span_exporter, standin):
    standin.enqueue(ErrorReply.rate_limit(), OK)
    async with async_anthropic_client.messages.stream(model=MODEL, max_tokens=20, messages=USER) as stream:
        await stream.get_final_message()
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert attrs(span)[semconv.REQUEST_ATTEMPTS] == 2
    (event,) = retry_events(span)
    assert event.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 429


def test_uninstrument_unwraps_exactly(instrumented, anthropic_client, span_exporter, standin):
    from anthropic._base_client import BaseClient

    for method, _ in retries.HOOKS:
        if hasattr(BaseClient, method):
            assert hasattr(BaseClient.__dict__[method], "__wrapped__"), method
    instrumented.uninstrument()
    for method, _ in retries.HOOKS:
        if hasattr(BaseClient, method):
            assert not hasattr(BaseClient.__dict__[method], "__wrapped__"), method
    standin.enqueue(ErrorReply.rate_limit(), OK)
    anthropic_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    assert span_exporter.get_finished_spans() == ()


def test_outside_a_call_the_hooks_pass_through():
    """A retry of a call tokentrail does not record (e.g. `models.list`): the SDK's answers, unchanged."""
    assert retries.recording_retry(lambda *args: 0.5, None, (3, None), {}) == 0.5
    assert retries.noting_response(lambda response: True, None, (object(),), {}) is True
    assert retries.noting_exception(lambda err: (True, None), None, (ValueError(),), {}) == (True, None)
