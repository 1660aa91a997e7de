"""The recorder on its own: idempotent ends, status rules, neutral responses to attributes, cost, metrics, fault
isolation (the Anthropic token arithmetic is tested with the adapter's `responses`)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from tests.fixtures.spans import points
from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder.call import ACTIVE_CALL_KEY, ActiveCall, LLMCall, active_span, qualified_name
from tokentrail.instrumentation.recorder.content import ContentPolicy
from tokentrail.instrumentation.recorder.recorder import Recorder
from tokentrail.instrumentation.recorder.records import Request, Response
from tokentrail.instrumentation.settings import CaptureMode
from tokentrail.pricing import PriceBook, Usage

PROVIDER = "anthropic"  # the price book's provider of MODEL
MODEL = "claude-haiku-4-5"  # published: $1 in, $5 out, $0.10 cache read, $1.25 5m write, $2 1h write per MTok


@pytest.fixture
def recorder(tracer_provider, meter_provider) -> Recorder:
    return Recorder(
        tracer_provider.get_tracer("t"),
        meter_provider.get_meter("t"),
        pricebook=PriceBook(),
        content=ContentPolicy(CaptureMode.SPAN_ONLY),
        context_attributes=lambda: {semconv.USER_ID: "u-1"},
    )


def start(recorder: Recorder, *, operation: str = semconv.OP_CHAT, billable: bool = True) -> LLMCall:
    attributes = {semconv.GEN_AI_OPERATION_NAME: operation, semconv.GEN_AI_REQUEST_MODEL: MODEL}
    return recorder.start(
        Request(
            operation,
            MODEL,
            attributes,
            PROVIDER,
            params={"messages": [{"role": "user", "content": "hi"}]},
            billable=billable,
            server_address="h",
            server_port=1,
        )
    )


def finished(span_exporter):
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0], dict(spans[0].attributes)


def test_ends_exactly_once(recorder, span_exporter):
    call = start(recorder)
    call.stop(Response(id="m", attributes={semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1}))
    call.stop(Response(id="other"))
    call.fail(ValueError("late"))
    call.cut(None)
    span, a = finished(span_exporter)
    assert call.ended
    assert a[semconv.GEN_AI_RESPONSE_ID] == "m"
    assert span.status.status_code is StatusCode.UNSET


def test_concurrent_ends_end_once(recorder, span_exporter):
    call = start(recorder)
    barrier = threading.Barrier(8)

    def end(i: int) -> None:
        barrier.wait()
        if i % 2:
            call.stop(None)
        else:
            call.fail(RuntimeError(str(i)))

    threads = [threading.Thread(target=end, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished(span_exporter)


def test_span_start_attributes(recorder, span_exporter):
    call = start(recorder)
    assert active_span() is None
    token = context_api.attach(call.context)
    try:
        assert active_span() is call.span
        assert trace.get_current_span() is call.span
        active = context_api.get_value(ACTIVE_CALL_KEY)
        assert (active.span, active.request) == (call.span, call.request)
    finally:
        context_api.detach(token)
    call.stop(None)
    span, a = finished(span_exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is trace.SpanKind.CLIENT
    assert a[semconv.USER_ID] == "u-1"
    assert '"hi"' in a[semconv.GEN_AI_INPUT_MESSAGES]


def test_usage_and_cost(recorder, span_exporter, metric_reader):
    call = start(recorder)
    tokens = {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 16_000,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 10_000,
    }
    call.stop(
        Response(
            model=MODEL,
            finish_reason="stop",
            attributes=dict(tokens),
            usage=Usage(
                input_tokens=1000,
                output_tokens=100,
                cache_read_tokens=10_000,
                cache_write_5m_tokens=2000,
                cache_write_1h_tokens=3000,
            ),
        )
    )
    _, a = finished(span_exporter)
    assert {name: a[name] for name in tokens} == tokens
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.COST_USD] == pytest.approx((1000 + 500 + 1000 * 0.1 * 10 + 2000 * 1.25 + 3000 * 2) / 1e6)
    usage = sorted(
        (dict(point.attributes)[semconv.GEN_AI_TOKEN_TYPE], point.sum)
        for point in points(metric_reader, semconv.METRIC_TOKEN_USAGE)
    )
    assert usage == [(semconv.TOKEN_TYPE_INPUT, 16_000), (semconv.TOKEN_TYPE_OUTPUT, 100)]
    (cost,) = points(metric_reader, semconv.METRIC_COST)
    assert cost.value == pytest.approx(a[semconv.COST_USD])
    assert dict(cost.attributes)[semconv.GEN_AI_PROVIDER_NAME] == PROVIDER


def test_the_span_ends_when_the_call_did(tracer_provider, span_exporter):
    """What the recorder does after the call (pricing, content, a redaction hook) is not the call's latency: the
    span ends at the moment the call ended, as the duration metric does. A slow redaction hook proves it."""

    def slow_redact(name, value):
        if name == semconv.GEN_AI_OUTPUT_MESSAGES:
            time.sleep(0.3)
        return value

    recorder = Recorder(
        tracer_provider.get_tracer("t"),
        pricebook=PriceBook(),
        content=ContentPolicy(CaptureMode.SPAN_ONLY, redact=slow_redact),
    )
    call = start(recorder)
    ended = time.time_ns()
    call.stop(Response(model=MODEL, message={"role": "assistant", "content": [{"type": "text", "text": "hi"}]}))
    returned = time.time_ns()
    span, attributes = finished(span_exporter)
    assert semconv.GEN_AI_OUTPUT_MESSAGES in attributes  # the hook ran inside stop()
    assert returned - ended >= 300_000_000
    assert span.start_time <= span.end_time <= ended + 100_000_000


def test_a_cut_call_finishes_with_error(recorder, span_exporter):
    call = start(recorder)
    call.cut(Response(id="m", finish_reason="stop"))
    _, a = finished(span_exporter)
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)


def test_batch_discount_and_usage_by_model(tracer_provider, span_exporter):
    recorder = Recorder(tracer_provider.get_tracer("t"), pricebook=PriceBook())
    call = recorder.start(Request(semconv.OP_BATCH_RESULTS, None, {}, PROVIDER, batch=True))
    call.stop(
        Response(
            usage=Usage(input_tokens=2_000_000),
            usage_by_model={MODEL: Usage(input_tokens=1_000_000), "claude-sonnet-4-6": Usage(input_tokens=1_000_000)},
        )
    )
    _, a = finished(span_exporter)
    assert a[semconv.COST_USD] == pytest.approx(0.5 + 1.5)  # half of $1 and of $3 per MTok


def test_unknown_model_has_tokens_but_no_cost(recorder, span_exporter):
    call = start(recorder)
    call.stop(
        Response(
            model="not-a-real-model-xyz",
            attributes={semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5},
            usage=Usage(input_tokens=5, output_tokens=5),
        )
    )
    _, a = finished(span_exporter)
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert semconv.COST_USD not in a


def test_not_billable_has_no_cost_nor_token_metrics(recorder, span_exporter, metric_reader):
    call = start(recorder, operation=semconv.OP_COUNT_TOKENS, billable=False)
    call.stop(Response(attributes={semconv.GEN_AI_USAGE_INPUT_TOKENS: 42}, usage=Usage(input_tokens=42)))
    _, a = finished(span_exporter)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 42
    assert semconv.COST_USD not in a
    names = {
        metric.name
        for rm in metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert names == {semconv.METRIC_OPERATION_DURATION}


def test_errors_and_cancellation(recorder, span_exporter):
    call = start(recorder)
    call.fail(KeyError("k"))
    span, a = finished(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert a[semconv.ERROR_TYPE] == "KeyError"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    span_exporter.clear()
    for not_an_error in (asyncio.CancelledError(), GeneratorExit()):
        start(recorder).fail(not_an_error)
        span, a = finished(span_exporter)
        assert span.status.status_code is StatusCode.UNSET
        assert semconv.ERROR_TYPE not in a
        span_exporter.clear()


def test_qualified_name():
    assert qualified_name(ValueError()) == "ValueError"
    assert qualified_name(asyncio.CancelledError()) == "asyncio.exceptions.CancelledError"


def test_time_to_first_chunk(recorder, span_exporter, metric_reader):
    call = start(recorder)
    call.chunk()
    first = call._first_chunk_ns
    call.chunk()
    assert call._first_chunk_ns == first
    call.stop(Response(usage=Usage(input_tokens=1, output_tokens=1)))
    _, a = finished(span_exporter)
    assert a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    (point,) = points(metric_reader, semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert point.sum == pytest.approx(a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])


class _BrokenAccumulator:
    complete = True

    def add(self, item):
        raise RuntimeError("add")

    def finish(self):
        raise RuntimeError("finish")

    def response(self):
        raise RuntimeError("response")


def test_end_stream_with_a_broken_accumulator(recorder, span_exporter):
    call = start(recorder)
    call.end_stream(_BrokenAccumulator())
    span, a = finished(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)


def test_faulty_collaborators_never_raise(tracer_provider, span_exporter, meter_provider):
    def boom(*args, **kwargs):
        raise RuntimeError("fault")

    class BadPrices(PriceBook):
        cost = boom

    class BadContent(ContentPolicy):
        request_attributes = boom
        response_attributes = boom

    recorder = Recorder(
        tracer_provider.get_tracer("t"),
        meter_provider.get_meter("t"),
        pricebook=BadPrices(),
        content=BadContent(CaptureMode.SPAN_ONLY),
        context_attributes=boom,
        error_type=boom,
    )
    call = start(recorder)
    call.stop(
        Response(
            model=MODEL,
            attributes={semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 4},
            usage=Usage(input_tokens=3, output_tokens=4),
            message={"role": "assistant", "content": []},
        )
    )
    span, a = finished(span_exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    span_exporter.clear()
    start(recorder).fail(ValueError("x"))
    span, a = finished(span_exporter)
    assert a[semconv.ERROR_TYPE] == "ValueError"  # the fallback classification


def test_a_call_is_freed_without_the_cycle_collector(recorder):
    import gc

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        call = start(recorder)
        token = context_api.attach(call.context)
        context_api.detach(token)
        call.stop(None)
        del call, token
        gc.collect()
        assert not [o for o in gc.garbage if isinstance(o, (LLMCall, ActiveCall))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
