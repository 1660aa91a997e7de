"""Zero-code (`opentelemetry-instrument`) and one-line (`tokentrail.instrument()`) set-ups, end to end over OTLP.

Each test runs a small application in a subprocess against the stand-in Anthropic API; its spans and metrics
are exported over OTLP/HTTP (protobuf) to a tiny receiver running in this test, which decodes them.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import StandinServer

MODEL = "claude-haiku-4-5"
BIN = Path(sys.executable).parent


@dataclass
class ReceivedSpan:
    name: str
    scope: str
    attributes: dict[str, Any]
    resource: dict[str, Any]


@dataclass
class Receiver:
    """What the OTLP receiver got: decoded spans and the raw metric requests."""

    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                request = ExportTraceServiceRequest.FromString(body)
                with lock:
                    for resource_spans in request.resource_spans:
                        resource = _attributes(resource_spans.resource.attributes)
                        for scope_spans in resource_spans.scope_spans:
                            state.spans += [
                                ReceivedSpan(s.name, scope_spans.scope.name, _attributes(s.attributes), resource)
                                for s in scope_spans.spans
                            ]
                reply = ExportTraceServiceResponse().SerializeToString()
            elif self.path == "/v1/metrics":
                with lock:
                    state.metrics.append(ExportMetricsServiceRequest.FromString(body))
                reply = ExportMetricsServiceResponse().SerializeToString()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


APP = textwrap.dedent(
    """
    import json, os, sys
    {setup}
    import anthropic

    client = anthropic.Anthropic(api_key="test", base_url=os.environ["STANDIN_URL"], max_retries=0)
    message = client.messages.create(
        model="{model}", max_tokens=64, messages=[{{"role": "user", "content": "Name a colour."}}]
    )
    print(json.dumps({{"input": message.usage.input_tokens, "output": message.usage.output_tokens}}))
    """
)


def run_app(tmp_path: Path, setup: str, command: list[str], env: dict[str, str]) -> dict[str, int]:
    script = tmp_path / "app.py"
    script.write_text(APP.format(setup=setup, model=MODEL), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    result = subprocess.run(
        [*command, str(script)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def export_env(receiver: Receiver, standin: StandinServer, service: str) -> dict[str, str]:
    return {
        "STANDIN_URL": standin.base_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": service,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",  # metrics leave at shutdown
        "PYTHONWARNINGS": "ignore",
    }


def histogram_bounds(receiver: Receiver, name: str) -> list[list[float]]:
    return [
        list(point.explicit_bounds)
        for request in receiver.metrics
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.histogram.data_points
    ]


def assert_one_chat_span(receiver: Receiver, usage: dict[str, int], service: str) -> ReceivedSpan:
    assert [s.name for s in receiver.spans] == [f"chat {MODEL}"], "exactly one span per call, none from the SDK"
    [span] = receiver.spans
    assert span.scope == anthropic_contract.INSTRUMENTATION_SCOPE
    assert span.resource["service.name"] == service
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == usage["input"]
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["output"]
    assert span.attributes[semconv.COST_USD] > 0
    return span


def test_opentelemetry_instrument_exports_one_chat_span(
    tmp_path: Path, receiver: Receiver, standin: StandinServer
) -> None:
    usage = run_app(
        tmp_path,
        setup="",
        command=[str(BIN / "opentelemetry-instrument"), sys.executable],
        env=export_env(receiver, standin, "zero-code-app"),
    )
    assert_one_chat_span(receiver, usage, "zero-code-app")
    assert histogram_bounds(receiver, semconv.METRIC_TOKEN_USAGE)
    assert all(b == list(semconv.TOKEN_USAGE_BUCKETS) for b in histogram_bounds(receiver, semconv.METRIC_TOKEN_USAGE))


def test_one_line_instrument_exports_one_chat_span_and_bucketed_metrics(
    tmp_path: Path, receiver: Receiver, standin: StandinServer
) -> None:
    env = export_env(receiver, standin, "ignored-by-the-explicit-name")
    del env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    usage = run_app(
        tmp_path,
        setup=f'import tokentrail; tokentrail.instrument(service_name="one-line-app", endpoint="{receiver.url}")',
        command=[sys.executable],
        env=env,
    )
    span = assert_one_chat_span(receiver, usage, "one-line-app")
    assert json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "Name a colour."
    token_bounds = histogram_bounds(receiver, semconv.METRIC_TOKEN_USAGE)
    duration_bounds = histogram_bounds(receiver, semconv.METRIC_OPERATION_DURATION)
    assert token_bounds
    assert duration_bounds
    assert all(b == list(semconv.TOKEN_USAGE_BUCKETS) for b in token_bounds)
    assert all(b == list(semconv.DURATION_BUCKETS) for b in duration_bounds)


def test_instrument_respects_the_provider_the_application_installed(
    tmp_path: Path, receiver: Receiver, standin: StandinServer
) -> None:
    setup = textwrap.dedent(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import atexit, tokentrail

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        tokentrail.instrument(metrics=False)
        tokentrail.instrument()  # idempotent
        assert trace.get_tracer_provider() is provider
        atexit.register(lambda: print(json.dumps([s.name for s in exporter.get_finished_spans()]), file=sys.stderr))
        """
    )
    env = export_env(receiver, standin, "own-provider")
    script = tmp_path / "app.py"
    script.write_text(APP.format(setup=setup, model=MODEL), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    result = subprocess.run(
        [sys.executable, str(script)], env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr.strip().splitlines()[-1]) == [f"chat {MODEL}"]
    assert receiver.spans == []  # tokentrail added no exporter to the application's provider


def test_opentelemetry_instrument_loads_the_prices_before_the_first_call(tmp_path: Path, receiver: Receiver) -> None:
    """The price data takes a fraction of a second to load: the zero-code start loads it in the background, as
    `tokentrail.instrument()` does, so the application's first call does not wait for it."""
    script = tmp_path / "idle.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            deadline = time.monotonic() + 60
            while "genai_prices.data" not in sys.modules and time.monotonic() < deadline:
                time.sleep(0.05)
            print("loaded" if "genai_prices.data" in sys.modules else "not loaded")
            """
        ),
        encoding="utf-8",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    env = {**clean, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "idle"}
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded"
