"""Where tokentrail's per-call time goes: the same call, instrumented with one layer switched on at a time.

    .venv/bin/python bench/breakdown.py [--calls 3000] [--rounds 7]

The real `anthropic` SDK answers from an in-process `httpx2`/`httpx` mock transport (no server, no sockets), so
the figures isolate client-side work. Each configuration runs in a fresh subprocess: bare SDK first, then the
instrumented one, and prints the median calling-thread CPU time added per `messages.create`:

- `noop`: tokentrail with a no-op tracer provider: our wrappers, extraction, pricing and context, no span;
- `span`: a real TracerProvider with a SimpleSpanProcessor to a discarding exporter: adds the OpenTelemetry span;
- `span+batch`: a BatchSpanProcessor instead (what applications run);
- `+content`, `+metrics`: content capture, then metrics (recorded off the caller's thread by the metric pump).

This complements bench/overhead.py (which compares with the peers through real HTTP); it is not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "noop": {"tracer": "noop", "content": False, "metrics": False},
    "span": {"tracer": "simple", "content": False, "metrics": False},
    "span+batch": {"tracer": "batch", "content": False, "metrics": False},
    "span+batch+content": {"tracer": "batch", "content": True, "metrics": False},
    "span+batch+content+metrics": {"tracer": "batch", "content": True, "metrics": True},
}

REPLY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Paris is the capital of France (source: any atlas)."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 120,
        "output_tokens": 30,
        "cache_read_input_tokens": 50,
        "cache_creation_input_tokens": 0,
    },
}


def worker(config: dict[str, object], calls: int, rounds: int) -> float:
    import anthropic

    try:
        import httpx2 as http
    except ImportError:  # anthropic 0.x runs on httpx
        import httpx as http  # type: ignore[no-redef]
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import NoOpTracerProvider

    from tokentrail.instrumentation import settings
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    body = json.dumps(REPLY).encode()

    def handler(request: object) -> object:
        return http.Response(200, content=body, headers={"content-type": "application/json", "request-id": "req_1"})

    options: dict[str, object] = {"open_telemetry": False} if anthropic.__version__ >= "1.14" else {}
    client = anthropic.Anthropic(
        api_key="bench", http_client=http.Client(transport=http.MockTransport(handler)), **options
    )
    messages = [{"role": "user", "content": "What is the capital of France? Answer briefly and cite a source."}]

    def call() -> None:
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=100, system="You are a helpful assistant.", messages=messages
        )

    def measure() -> float:
        for _ in range(calls // 10):
            call()
        samples = []
        for _ in range(rounds):
            start = time.thread_time_ns()
            for _ in range(calls):
                call()
            samples.append((time.thread_time_ns() - start) / calls / 1000)
        return statistics.median(samples)

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    bare = measure()
    tracer = config["tracer"]
    provider: object
    if tracer == "noop":
        provider = NoOpTracerProvider()
    else:
        provider = TracerProvider()
        processor = (
            SimpleSpanProcessor(Discard())
            if tracer == "simple"
            else BatchSpanProcessor(Discard(), max_queue_size=1 << 20)
        )
        provider.add_span_processor(processor)  # type: ignore[attr-defined]
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()]) if config["metrics"] else None
    AnthropicInstrumentor().instrument(
        tracer_provider=provider,
        meter_provider=meter_provider,
        settings=settings.load({}, capture_content=bool(config["content"]), metrics=bool(config["metrics"])),
    )
    return measure() - bare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--worker", choices=list(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(CONFIGS[args.worker], args.calls, args.rounds)))
        return 0
    print(f"{'configuration':<28} added CPU µs/call (median of {args.rounds} rounds x {args.calls} calls)")
    for name in CONFIGS:
        argv = [sys.executable, __file__, "--worker", name, "--calls", str(args.calls), "--rounds", str(args.rounds)]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        print(f"{name:<28} {json.loads(out.strip().splitlines()[-1]):+8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
