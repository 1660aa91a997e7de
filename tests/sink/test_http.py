"""The OTLP/HTTP app over real HTTP: real OTLP exporters in, real Postgres rows out; every refusal (401, 413, 400,
415, 404, 405) changes nothing; metrics and logs accepted and dropped; the probes and metrics."""

from __future__ import annotations

import gzip
import logging
import os
from typing import Any

import httpx
import psycopg
import pytest
from google.rpc import status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures import otlp
from tests.fixtures.postgres import PgCluster
from tests.fixtures.sink import SinkFactory, post, sdk_spans
from tokentrail.contract import semconv
from tokentrail.sink import decode
from tokentrail.sink.background import BackgroundSink
from tokentrail.sink.spans import extract_spans

# --- the happy paths ---------------------------------------------------------------------------------------------


def test_real_otlp_exporter_protobuf_gzip_is_stored_and_acknowledged(sink: BackgroundSink, database_url: str) -> None:
    spans = sdk_spans(3)
    exporter = OTLPSpanExporter(endpoint=sink.traces_url, compression=Compression.Gzip)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()

    assert otlp.counts(database_url) == (4, 3, 4)  # 4 spans, 3 calls, 1 system prompt + 3 user turns
    assert otlp.count(database_url, "llm_calls", "user_id = 'u-7' AND service_name = 'shop' AND cost_usd > 0") == 3
    server_span = spans[-1]
    assert otlp.count(database_url, "llm_calls", f"parent_span_id = '{server_span.context.span_id:016x}'") == 3


def test_the_same_export_twice_stores_each_span_once(sink: BackgroundSink, database_url: str) -> None:
    spans = sdk_spans(2)
    exporter = OTLPSpanExporter(endpoint=sink.traces_url)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert otlp.counts(database_url) == (3, 2, 3)
    metrics = httpx.get(sink.url + "/metrics").text
    assert "tokentrail_sink_spans_stored_total 3.0" in metrics
    assert "tokentrail_sink_spans_duplicate_total 3.0" in metrics


def test_otlp_json_body_is_stored_and_answered_in_json(sink: BackgroundSink, database_url: str) -> None:
    trace_id = os.urandom(16).hex()
    attrs = {
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: "claude-haiku-4-5",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 100,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
    }
    body = otlp.json_request([otlp.json_span(trace_id, "eee19b7ec3c1b174", "chat claude-haiku-4-5", attrs)])
    response = post(sink, gzip.compress(body), {**otlp.JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert otlp.count(database_url, "llm_calls", f"trace_id = '{trace_id}' AND input_tokens = 100") == 1


def test_invalid_spans_are_reported_in_partial_success_and_the_rest_stored(
    sink: BackgroundSink, database_url: str
) -> None:
    good = otlp.span("good")
    bad = otlp.span("bad", span_id=b"\x01\x02")
    response = post(sink, otlp.body(otlp.request([good, bad])), otlp.PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "span_id must be 8 bytes" in answer.partial_success.error_message
    assert otlp.count(database_url, "spans") == 1


def test_spans_of_the_real_instrumentor_become_typed_rows(
    instrumented: Any,
    anthropic_client: Any,
    span_exporter: InMemorySpanExporter,
    sink: BackgroundSink,
    database_url: str,
) -> None:
    system = "You answer questions about invoices."
    for question in ("What is VAT?", "What is a credit note?"):
        anthropic_client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            system=system,
            messages=[{"role": "user", "content": question}],
        )
    spans = [
        s for s in span_exporter.get_finished_spans() if s.attributes and semconv.GEN_AI_OPERATION_NAME in s.attributes
    ]
    assert len(spans) == 2
    exporter = OTLPSpanExporter(endpoint=sink.traces_url, compression=Compression.Gzip)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT source, operation, input_tokens, output_tokens, cost_usd, system_sha256, input_sha256, status"
            " FROM llm_calls ORDER BY start_time"
        ).fetchall()
        system_blobs = conn.execute(
            "SELECT count(*) FROM content_blobs b JOIN llm_calls c ON c.system_sha256 = b.sha256"
        ).fetchone()
    assert len(rows) == 2
    for (source, operation, input_tokens, output_tokens, cost, system_sha, input_sha, status), span in zip(
        rows, spans, strict=True
    ):
        attributes = span.attributes or {}
        assert (source, operation, status) == ("tokentrail", "chat", "ok")
        assert input_tokens == attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS]
        assert output_tokens == attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
        assert cost is not None
        assert cost > 0
        assert system_sha is not None
        assert input_sha is not None
    assert rows[0][5] == rows[1][5]  # one system prompt, stored once, referenced twice
    assert system_blobs == (2,)
    assert otlp.count(database_url, "content_blobs", "body LIKE '%invoices%'") == 1


def test_manual_calls_of_another_provider_become_typed_rows(
    tracer_provider: Any,
    span_exporter: InMemorySpanExporter,
    standin: Any,
    sink: BackgroundSink,
    database_url: str,
) -> None:
    """`tokentrail.llm_call` around a real OpenAI-compatible request: same columns as the instrumentor's calls."""
    import tokentrail

    model = "gpt-4o-mini"
    messages = [{"role": "user", "content": "What is a credit note?"}]
    tokentrail.instrument(tracer_provider=tracer_provider, metrics=False, capture_content=True)
    try:
        with tokentrail.attributes(user_id="u-3"), tokentrail.llm_call(provider="openai", model=model) as call:
            call.set_input(messages)
            data = httpx.post(
                f"{standin.base_url}/v1/chat/completions", json={"model": model, "messages": messages}
            ).json()
            call.set_output(data["choices"][0]["message"], finish_reason="stop")
            usage = data["usage"]
            call.set_usage(input_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"])
            call.set_response(id=data["id"], model=data["model"])
    finally:
        tokentrail.uninstrument()
    [span] = span_exporter.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=sink.traces_url)
    assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT source, provider, request_model, response_id, input_tokens, output_tokens, cost_usd, cost_source,"
            " user_id, input_sha256, output_sha256, finish_reasons, status FROM llm_calls"
        ).fetchone()
    assert row is not None
    source, provider, request_model, response_id, input_tokens, output_tokens, cost, cost_source, user, *rest = row
    input_sha, output_sha, finish_reasons, status = rest
    assert (source, provider, request_model, response_id, status) == ("tokentrail", "openai", model, data["id"], "ok")
    assert (input_tokens, output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert float(cost) == pytest.approx((span.attributes or {})[semconv.COST_USD])
    assert cost_source is not None
    assert not cost_source.startswith("sink:")  # priced in the app, kept as it is
    assert user == "u-3"
    assert input_sha is not None
    assert output_sha is not None
    assert finish_reasons == ["stop"]
    assert otlp.count(database_url, "content_blobs", "body LIKE '%credit note%'") == 2  # the question and its echo


def test_the_sink_prices_an_unpriced_manual_call_with_its_provider(sink: BackgroundSink, database_url: str) -> None:
    from tokentrail.pricing import Usage, pricebook

    attributes = otlp.llm_attributes(
        **{
            semconv.GEN_AI_PROVIDER_NAME: "openai",
            semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini",
        }
    )
    request = otlp.request([otlp.span("chat gpt-4o-mini", attributes=attributes)], scope=semconv.MANUAL_SCOPE)
    assert post(sink, otlp.body(request), {"Content-Type": "application/x-protobuf"}).status_code == 200
    expected = pricebook(None).cost("gpt-4o-mini", Usage(1200, 300), provider="openai")
    assert expected is not None
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT source, provider, cost_usd, cost_source FROM llm_calls").fetchone()
    assert row is not None
    assert row[:2] == ("tokentrail", "openai")
    assert float(row[2]) == pytest.approx(expected.usd)
    assert row[3].startswith("sink:")


# --- refusals change nothing ------------------------------------------------------------------------------------


def test_bearer_token_is_required_when_configured(sink_factory: SinkFactory, database_url: str) -> None:
    sink = sink_factory(token="s3cret")
    body = otlp.body(otlp.request([otlp.span("x")]))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        response = post(sink, body, {**otlp.PROTOBUF, **headers})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert otlp.count(database_url, "spans") == 0
    exporter = OTLPSpanExporter(endpoint=sink.traces_url, headers={"Authorization": "Bearer s3cret"})
    assert exporter.export(sdk_spans(1)) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert otlp.count(database_url, "spans") == 2


def test_too_large_bodies_are_413_even_when_small_compressed(sink_factory: SinkFactory, database_url: str) -> None:
    sink = sink_factory(max_body_bytes=64 * 1024)
    bomb = gzip.compress(otlp.body(otlp.request([otlp.span("x", attributes={"a": "z" * 10_000_000})])))
    assert len(bomb) < 64 * 1024
    assert post(sink, bomb, {**otlp.PROTOBUF, "Content-Encoding": "gzip"}).status_code == 413
    assert post(sink, b"\x00" * (64 * 1024 + 1), otlp.PROTOBUF).status_code == 413
    assert otlp.count(database_url, "spans") == 0


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\xff\xff\xff garbage", otlp.PROTOBUF, 400),
        (b"{not json", otlp.JSON, 400),
        (b"\x1f\x8b broken gzip", {**otlp.PROTOBUF, "Content-Encoding": "gzip"}, 400),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b"{}", {**otlp.JSON, "Content-Encoding": "br"}, 415),
    ],
)
def test_undecodable_or_unsupported_bodies(
    sink: BackgroundSink, database_url: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = post(sink, body, headers)
    assert response.status_code == status
    if headers["Content-Type"] == otlp.PROTOBUF["Content-Type"]:
        assert status_pb2.Status.FromString(response.content).message
    elif headers["Content-Type"] == otlp.JSON["Content-Type"]:
        assert response.json()["message"]
    assert otlp.count(database_url, "spans") == 0


def test_wrong_method_and_unknown_path(sink: BackgroundSink) -> None:
    assert httpx.get(sink.traces_url).status_code == 405
    assert httpx.get(sink.url + "/v1/metrics").status_code == 405
    assert post(sink, b"", otlp.PROTOBUF, path="/v1/profiles").status_code == 404


# --- metrics and logs: accepted and dropped -----------------------------------------------------------------------


def _metrics_data() -> Any:
    """Real SDK metrics (a counter and a histogram), collected once."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "shop"}))
    meter = provider.get_meter("test")
    meter.create_counter("calls").add(3, {"model": "claude-haiku-4-5"})
    meter.create_histogram("tokens", unit="{token}").record(120)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def test_an_apps_metric_and_log_exporters_pointed_at_the_sink_succeed(
    sink_factory: SinkFactory, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sink = sink_factory(token="s3cret")
    headers = {"Authorization": "Bearer s3cret"}
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    metric_exporter = OTLPMetricExporter(endpoint=sink.url + "/v1/metrics", headers=headers)
    assert metric_exporter.export(_metrics_data()) is MetricExportResult.SUCCESS
    gzipped = OTLPMetricExporter(endpoint=sink.url + "/v1/metrics", headers=headers, compression=Compression.Gzip)
    assert gzipped.export(_metrics_data()) is MetricExportResult.SUCCESS
    # The way an application exports: a periodic reader, flushed.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("app").create_counter("requests").add(1)
    assert provider.force_flush()
    provider.shutdown()
    log_exporter = OTLPLogExporter(endpoint=sink.url + "/v1/logs", headers=headers)
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger_provider.get_logger("app").emit(body="a log record")
    logger_provider.shutdown()
    gzipped.shutdown()
    exporter_logs = [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in exporter_logs] == []
    assert otlp.count(database_url, "spans") == 0
    discarded = {
        sample.labels["signal"]: sample.value
        for family in text_string_to_metric_families(httpx.get(sink.url + "/metrics").text)
        for sample in family.samples
        if sample.name == "tokentrail_sink_discarded_requests_total" and sample.labels["status"] == "200"
    }
    assert discarded["metrics"] >= 3  # two exports, the flush (and the provider's shutdown exports once more)
    assert discarded["logs"] == 1


@pytest.mark.parametrize(
    ("path", "response_type"),
    [("/v1/metrics", ExportMetricsServiceResponse), ("/v1/logs", ExportLogsServiceResponse)],
)
def test_metrics_and_logs_get_an_empty_response_in_the_requests_format(
    sink: BackgroundSink, path: str, response_type: Any
) -> None:
    request = ExportMetricsServiceRequest()
    request.resource_metrics.add().resource.attributes.extend(otlp.key_values({"service.name": "shop"}))
    response = post(sink, request.SerializeToString(), otlp.PROTOBUF, path=path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert response_type.FromString(response.content) == response_type()
    response = post(sink, gzip.compress(b'{"resourceMetrics": []}'), {**otlp.JSON, "Content-Encoding": "gzip"}, path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_metrics_and_logs_are_refused_as_traces_are(sink_factory: SinkFactory, path: str) -> None:
    sink = sink_factory(token="s3cret", max_body_bytes=64 * 1024)
    auth = {"Authorization": "Bearer s3cret"}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = post(sink, b"", {**otlp.PROTOBUF, **headers}, path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert post(sink, b"{}", {"Content-Type": "text/plain", **auth}, path).status_code == 415
    assert post(sink, b"{}", {**otlp.JSON, "Content-Encoding": "br", **auth}, path).status_code == 415
    assert post(sink, b"\x00" * (64 * 1024 + 1), {**otlp.PROTOBUF, **auth}, path).status_code == 413
    bomb = gzip.compress(b"\x00" * (1 << 20))
    assert len(bomb) < 64 * 1024
    response = post(sink, bomb, {**otlp.PROTOBUF, "Content-Encoding": "gzip", **auth}, path)
    assert response.status_code == 413
    assert "exceeds" in status_pb2.Status.FromString(response.content).message
    response = post(sink, b"\x1f\x8b broken gzip", {**otlp.JSON, "Content-Encoding": "gzip", **auth}, path)
    assert response.status_code == 400
    assert response.json()["message"]


def test_metrics_and_logs_need_no_database(sink: BackgroundSink, pg_cluster: PgCluster) -> None:
    pg_cluster.stop()
    try:
        assert post(sink, otlp.body(otlp.request([otlp.span("x")])), otlp.PROTOBUF).status_code == 503
        assert post(sink, b"", otlp.PROTOBUF, path="/v1/metrics").status_code == 200
        assert post(sink, b"", otlp.PROTOBUF, path="/v1/logs").status_code == 200
    finally:
        pg_cluster.start()


def test_health_readiness_and_metrics(sink: BackgroundSink) -> None:
    assert httpx.get(sink.url + "/healthz").status_code == 200
    ready = httpx.get(sink.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "detail": "ok"}
    post(sink, otlp.body(otlp.request([otlp.span("x")])), otlp.PROTOBUF)
    post(sink, b"junk", otlp.PROTOBUF)
    metrics = httpx.get(sink.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'tokentrail_sink_requests_total{status="200",transport="http"} 1.0' in text
    assert 'tokentrail_sink_requests_total{status="400",transport="http"} 1.0' in text
    assert "tokentrail_sink_spans_received_total 1.0" in text
    assert "tokentrail_sink_batch_duration_seconds_count 1.0" in text
    assert "tokentrail_sink_inflight_requests 0.0" in text


# --- fuzzing through the whole server -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=512),
    content_type=st.sampled_from(["application/x-protobuf", "application/json"]),
    encoding=st.sampled_from([None, "gzip"]),
)
def test_fuzz_server_never_fails_and_stores_only_valid_spans(
    sink: BackgroundSink, database_url: str, body: bytes, content_type: str, encoding: str | None
) -> None:
    before = otlp.count(database_url, "spans")
    headers = {"Content-Type": content_type, **({"Content-Encoding": encoding} if encoding else {})}
    response = post(sink, body, headers)
    assert response.status_code in (200, 400, 413)
    stored = otlp.count(database_url, "spans") - before
    if response.status_code != 200:
        assert stored == 0
    else:
        fmt = decode.media_format(content_type)
        extracted = extract_spans(decode.parse(decode.decompress(body, encoding, 1 << 24), fmt))
        assert stored <= len(extracted.spans)  # fewer only when a random span repeats an earlier key
