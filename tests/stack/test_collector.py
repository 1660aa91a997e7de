"""The real collector (built from deploy/otelcol-builder.yaml) runs collector-config.yaml as documented.

Spans are produced with the real OpenTelemetry SDK and sent with the real OTLP exporters. Jaeger is the real Jaeger
v2. The sink side of the collector is observed through `OtlpRecorder`, a protocol probe that records exactly what
the collector's `otlp_http/sink` exporter sends (headers, encoding, spans) and can refuse it like an unavailable sink;
the sink itself is tested in tests/sink and end to end in tests/e2e.
"""

from __future__ import annotations

import gzip
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fixtures.stack import (
    COLLECTOR_CONFIG,
    JAEGER_NO_CONTENT_OVERLAY,
    REPO_ROOT,
    Collector,
    Jaeger,
    StackBinaries,
    StartCollector,
    trace_spans,
)
from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv

MANIFEST = REPO_ROOT / "deploy" / "otelcol-builder.yaml"
JAEGER_WITH_CONTENT_OVERLAY = REPO_ROOT / "deploy" / "collector-jaeger-with-content.yaml"
CONTENT_KEYS = (semconv.GEN_AI_SYSTEM_INSTRUCTIONS, semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)
INPUT_MESSAGES = '[{"role":"user","parts":[{"type":"text","content":"What is our refund policy?"}]}]'
OUTPUT_MESSAGES = '[{"role":"assistant","parts":[{"type":"text","content":"30 days."}],"finish_reason":"stop"}]'


# --------------------------------------------------------------------------------------------------------------
# helpers


class OtlpRecorder:
    """A minimal OTLP/HTTP endpoint recording what the collector sends; `refuse_with` answers 503 + Retry-After."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.spans: list[Any] = []  # opentelemetry.proto.trace.v1.Span
        self.refused = 0
        self.refuse_with: int | None = None
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with recorder._lock:
                    status = recorder.refuse_with
                    if status is not None:
                        recorder.refused += 1
                    else:
                        recorder.requests.append(headers)
                        if headers.get("content-encoding") == "gzip":
                            body = gzip.decompress(body)
                        request = ExportTraceServiceRequest.FromString(body)
                        for rs in request.resource_spans:
                            for ss in rs.scope_spans:
                                recorder.spans.extend(ss.spans)
                if status is not None:
                    self.send_response(status)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def span_ids(self) -> set[int]:
        with self._lock:
            return {int.from_bytes(s.span_id, "big") for s in self.spans}

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[OtlpRecorder]:
    rec = OtlpRecorder()
    yield rec
    rec.close()


def make_llm_trace(tracer_provider: TracerProvider, span_exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """A request span with one LLM call under it, shaped like tokentrail's span contract."""
    tracer = tracer_provider.get_tracer(anthropic_contract.INSTRUMENTATION_SCOPE)
    with (
        tracer.start_as_current_span("POST /answer", kind=trace.SpanKind.SERVER),
        tracer.start_as_current_span("chat claude-sonnet-4-5", kind=trace.SpanKind.CLIENT) as llm,
    ):
        llm.set_attributes(
            {
                semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
                semconv.GEN_AI_PROVIDER_NAME: anthropic_contract.PROVIDER,
                semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
                semconv.GEN_AI_USAGE_INPUT_TOKENS: 1200,
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 85,
                semconv.COST_USD: 0.004875,
                semconv.GEN_AI_SYSTEM_INSTRUCTIONS: '[{"type":"text","content":"You answer support questions."}]',
                semconv.GEN_AI_INPUT_MESSAGES: INPUT_MESSAGES,
                semconv.GEN_AI_OUTPUT_MESSAGES: OUTPUT_MESSAGES,
            }
        )
    spans = list(span_exporter.get_finished_spans())
    span_exporter.clear()
    return spans


def export_http(collector: Collector, spans: list[ReadableSpan]) -> None:
    exporter = HttpSpanExporter(endpoint=f"{collector.otlp_http_endpoint}/v1/traces", timeout=10)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def export_grpc(collector: Collector, spans: list[ReadableSpan]) -> None:
    exporter = GrpcSpanExporter(endpoint=collector.otlp_grpc_endpoint, insecure=True, timeout=10)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def run_otelcol(
    binaries: StackBinaries, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binaries.otelcol), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def component_types(config: dict[str, Any]) -> dict[str, set[str]]:
    """Component types (`otlp_http/sink` → `otlp_http`) a collector configuration defines, by kind."""
    kinds = ("receivers", "processors", "exporters", "extensions", "connectors")
    return {kind: {name.split("/", 1)[0] for name in config.get(kind) or {}} for kind in kinds}


# --------------------------------------------------------------------------------------------------------------
# configuration


@pytest.mark.parametrize(
    "overlays",
    [(), (JAEGER_NO_CONTENT_OVERLAY,), (JAEGER_WITH_CONTENT_OVERLAY,)],
    ids=["base", "jaeger-no-content", "jaeger-with-content"],
)
def test_collector_validates_our_config(stack_binaries: StackBinaries, overlays: tuple[Path, ...]) -> None:
    args = ["validate", "--config", str(COLLECTOR_CONFIG)]
    for overlay in overlays:
        args += ["--config", str(overlay)]
    result = run_otelcol(stack_binaries, *args)
    assert result.returncode == 0, result.stderr


def test_validate_rejects_components_outside_the_distribution(stack_binaries: StackBinaries, tmp_path: Path) -> None:
    # The k8s gateway tier's loadbalancing exporter is not in the minimal build (docs/scaling.md says so).
    config = tmp_path / "lb.yaml"
    config.write_text(
        "receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}}\n"
        "exporters: {loadbalancing: {protocol: {otlp: {}}, resolver: {static: {hostnames: [a:4317]}}}}\n"
        "service: {pipelines: {traces: {receivers: [otlp], exporters: [loadbalancing]}}}\n"
    )
    result = run_otelcol(stack_binaries, "validate", "--config", str(config))
    assert result.returncode != 0
    assert "loadbalancing" in result.stderr


def test_distribution_holds_exactly_the_components_the_configs_use(stack_binaries: StackBinaries) -> None:
    result = run_otelcol(stack_binaries, "components")
    assert result.returncode == 0, result.stderr
    built = yaml.safe_load(result.stdout)
    built_types = {
        kind: {c["name"] for c in built.get(kind) or []}
        for kind in ("receivers", "processors", "exporters", "extensions", "connectors")
    }

    used: dict[str, set[str]] = {kind: set() for kind in built_types}
    for path in (COLLECTOR_CONFIG, JAEGER_NO_CONTENT_OVERLAY, JAEGER_WITH_CONTENT_OVERLAY):
        for kind, types in component_types(yaml.safe_load(path.read_text())).items():
            used[kind] |= types
    assert used == built_types

    # ...and the manifest's modules are exactly the modules the binary reports (pinned versions included).
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest_modules = {
        m["gomod"] for kind in ("receivers", "processors", "exporters", "extensions") for m in manifest[kind]
    }
    built_modules = {c["module"] for kind in built_types for c in built.get(kind) or []}
    assert manifest_modules == built_modules


# --------------------------------------------------------------------------------------------------------------
# spans through the collector


@pytest.mark.parametrize("export", [export_http, export_grpc], ids=["otlp-http", "otlp-grpc"])
def test_span_reaches_jaeger(
    collector: Collector,
    jaeger: Jaeger,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    export: Callable[[Collector, list[ReadableSpan]], None],
) -> None:
    sent = make_llm_trace(tracer_provider, span_exporter)
    export(collector, sent)

    trace_id = sent[0].context.trace_id
    received = {s.name: s for s in trace_spans(jaeger.wait_for_trace(trace_id, min_spans=2))}
    server, llm = received["POST /answer"], received["chat claude-sonnet-4-5"]
    assert llm.parent_span_id == server.span_id
    assert llm.kind == trace.SpanKind.CLIENT.value + 1  # OTLP numbering: CLIENT = 3
    assert llm.scope == anthropic_contract.INSTRUMENTATION_SCOPE
    assert llm.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert llm.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 85
    assert llm.attributes[semconv.COST_USD] == pytest.approx(0.004875)
    # Without the overlay, Jaeger shows the content too.
    assert llm.attributes[semconv.GEN_AI_INPUT_MESSAGES] == INPUT_MESSAGES
    assert llm.attributes[semconv.GEN_AI_OUTPUT_MESSAGES] == OUTPUT_MESSAGES
    # The collector reports its own work.
    assert collector.metric("otelcol_receiver_accepted_spans", receiver="otlp") >= 2


def test_sink_path_is_protobuf_gzip_with_bearer_token_and_overlay_strips_jaeger_only(
    start_collector: StartCollector,
    jaeger: Jaeger,
    recorder: OtlpRecorder,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    collector = start_collector(
        jaeger_endpoint=jaeger.otlp_grpc_endpoint,
        sink_endpoint=recorder.endpoint,
        sink_token="s3cret-token",
        extra_configs=[JAEGER_NO_CONTENT_OVERLAY],
    )
    sent = make_llm_trace(tracer_provider, span_exporter)
    export_http(collector, sent)

    recorder.wait(lambda: len(recorder.span_ids()) >= 2, "both spans at the sink endpoint")
    headers = recorder.requests[0]
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"] == "Bearer s3cret-token"
    sink_llm = next(s for s in recorder.spans if s.name == "chat claude-sonnet-4-5")
    sink_attrs = {kv.key: kv.value for kv in sink_llm.attributes}
    assert sink_attrs[semconv.GEN_AI_INPUT_MESSAGES].string_value == INPUT_MESSAGES
    assert all(key in sink_attrs for key in CONTENT_KEYS)

    trace_id = sent[0].context.trace_id
    received = {s.name: s for s in trace_spans(jaeger.wait_for_trace(trace_id, min_spans=2))}
    jaeger_llm = received["chat claude-sonnet-4-5"]
    assert not set(CONTENT_KEYS) & set(jaeger_llm.attributes)
    assert jaeger_llm.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1200
    assert jaeger_llm.attributes[semconv.GEN_AI_REQUEST_MODEL] == "claude-sonnet-4-5"


def test_sink_outage_and_collector_crash_lose_nothing(
    start_collector: StartCollector,
    jaeger: Jaeger,
    recorder: OtlpRecorder,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
) -> None:
    """Spans the collector acknowledged survive a sink outage and a SIGKILL of the collector (persistent queue)."""
    recorder.refuse_with = 503
    collector = start_collector(
        jaeger_endpoint=jaeger.otlp_grpc_endpoint,
        sink_endpoint=recorder.endpoint,
        env={"OTELCOL_STORAGE_FSYNC": "true"},
    )
    sent_ids: set[int] = set()
    for _ in range(5):
        spans = make_llm_trace(tracer_provider, span_exporter)
        export_http(collector, spans)  # acknowledged by the collector
        sent_ids |= {s.context.span_id for s in spans}

    recorder.wait(lambda: recorder.refused >= 1, "the collector's first delivery attempt")
    collector.kill()
    assert not recorder.span_ids()

    recorder.refuse_with = None
    collector.start()
    recorder.wait(lambda: sent_ids <= recorder.span_ids(), f"all {len(sent_ids)} spans after the restart")
    assert recorder.span_ids() == sent_ids


def test_health_check_and_own_metrics(collector: Collector) -> None:
    assert httpx.get(collector.health_url, timeout=5).status_code == 200
    text = httpx.get(collector.metrics_url, timeout=5).text
    assert "otelcol_process_uptime" in text
