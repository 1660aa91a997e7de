"""Per-call overhead of tokentrail and its peers over the bare Anthropic SDK.

    python bench/overhead.py [--rounds 15] [--calls 200] [--write-docs docs/benchmarks.md]   (or: make bench)

What it measures: the cost of one `messages.create` call (and of one streamed call read to its end) through the
real SDK against the local stand-in, with each instrumentation installed, minus the same call on the bare SDK, on two
clocks: the calling thread's CPU time (robust on a shared machine: excludes the server, the export thread and time
spent descheduled) and wall time.

How, so that the numbers compare:
- Every competitor runs in its own worker subprocess (instrumentations cannot be cleanly un-patched together),
  each with a real SDK `TracerProvider` + `BatchSpanProcessor` and a real `MeterProvider`, exporting to exporters
  that discard: this measures instrumentation, not export. Content capture is on for everyone who has it.
- One stand-in server (a thread in this process, so no worker pays for it) answers every worker with the same
  scripted replies: same request, same reply, same usage (with cache tokens), same stream of events.
- Workers run one at a time, in rounds; each round starts a fresh worker per competitor and visits them in a fresh
  random order, so machine noise (2 shared cores) spreads evenly and no process's own offset (memory layout, hash
  seed: tens of µs per call, see the `bare-again` control row) stays with one competitor for the whole run. Within
  a round, each mode's calls are cut into slices that the workers take in turns, each slice after a short
  warm-up. Per round we take each worker's median; the reported figures are medians over rounds of the
  per-round median, p90, and difference to bare, with the middle half of those differences.
- Per stream event: the added CPU time of a long stream minus that of a short one, over the number of extra events.

`--profile NAME` runs one competitor under cProfile instead and prints its top functions.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

MODEL = "claude-sonnet-4-6"
SYSTEM = "You are a terse assistant. Answer in one sentence."
PROMPT = (
    "Summarise the following note for a status page: the nightly export finished at 02:14 UTC, "
    "two retries were needed for the EU shard, and all 1,204 reports were delivered."
)
ANSWER = "The nightly export finished at 02:14 UTC after two EU retries; all 1,204 reports were delivered."
SHORT_EVENTS = 10
LONG_EVENTS = 410
REPO = Path(__file__).resolve().parent.parent
DOCS_SECTION = "## Per-call overhead"


# --- competitors (each set up inside its own worker process) --------------------------------------------------


@dataclass(frozen=True)
class Competitor:
    name: str
    label: str
    distribution: str | None
    """The distribution whose version the report shows (None: the SDK itself)."""
    setup: Callable[[Any, Any], dict[str, Any]]
    """Instruments with (tracer_provider, meter_provider); returns extra keyword arguments for the client."""
    env: dict[str, str] = field(default_factory=dict)


def _native_off() -> dict[str, Any]:
    import inspect

    import anthropic

    has_option = "open_telemetry" in inspect.signature(anthropic.Anthropic.__init__).parameters
    return {"open_telemetry": False} if has_option else {}


def _bare(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    return _native_off()


def _native(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    return {"open_telemetry": {"tracer_provider": tracer_provider, "traces": {"content_mode": "content"}}}


def instrument_tokentrail(tracer_provider: Any, meter_provider: Any, *, capture_content: bool = True) -> Any:
    """tokentrail's instrumentor, installed with cost and metrics on (and content capture unless told)."""
    from tokentrail.instrumentation import settings
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        settings=settings.load(env={}, capture_content=capture_content, metrics=True),
    )
    return instrumentor


def _tokentrail(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    instrument_tokentrail(tracer_provider, meter_provider)
    # The SDK's own tracing stays at its default (on, global provider): tokentrail takes its span's place.
    return {}


def _tokentrail_sdk_off(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    _tokentrail(tracer_provider, meter_provider)
    return _native_off()


def _tokentrail_no_content(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    """tokentrail as configured by `TOKENTRAIL_CAPTURE_CONTENT=false` (SDK tracing off, like the peers' rows): what
    recording prompts and completions costs, by difference to `tokentrail-sdk-off`."""
    instrument_tokentrail(tracer_provider, meter_provider, capture_content=False)
    return _native_off()


def _openllmetry(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return _native_off()


def _openinference(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tracer_provider)
    return _native_off()


def _otel_genai(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return _native_off()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reference_wrapper(tracer_provider: Any, *, attributes: bool = True) -> Callable[[Any, Any, Any, Any], Any]:
    """The reference span's wrapt wrapper: one CLIENT span, current during the wrapped call, with the 24 attributes
    tokentrail records for this call given as constants, its JSON strings as compact as tokentrail writes them
    (or, without `attributes`, none at all). `bench/instructions.py` checks that the two spans carry the same
    attribute names before it counts."""
    from opentelemetry import context, trace

    tracer = tracer_provider.get_tracer("reference")
    start: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "server.address": "127.0.0.1",
        "server.port": 8080,
        "anthropic.client.platform": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.system_instructions": _compact([{"type": "text", "content": SYSTEM}]),
        "gen_ai.input.messages": _compact([{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]),
    }
    end: dict[str, Any] = {
        "gen_ai.response.id": "msg_015RqkxX5bmF6K3tpGqsAaBv",
        "gen_ai.response.model": MODEL,
        "anthropic.message.stop_reason": "end_turn",
        "gen_ai.response.finish_reasons": ("stop",),
        "anthropic.response.service_tier": "standard",
        "anthropic.request.id": "req_01FUPZDeuxF8ugGutpm4qsiz",
        "gen_ai.usage.input_tokens": 1548,
        "gen_ai.usage.output_tokens": 26,
        "gen_ai.usage.cache_read.input_tokens": 1200,
        "gen_ai.usage.cache_write.input_tokens": 300,
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 300,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 0,
        "gen_ai.usage.cost": 0.001,
        "tokentrail.cost.source": "genai-prices",
        "gen_ai.output.messages": _compact(
            [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
        ),
    }

    if not attributes:
        start.clear()
        end.clear()

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        span = tracer.start_span("chat " + MODEL, kind=trace.SpanKind.CLIENT, attributes=dict(start))
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = wrapped(*args, **kwargs)
        finally:
            context.detach(token)
        span.set_attributes(end)
        span.end()
        return result

    return wrapper


def _reference_span(tracer_provider: Any, meter_provider: Any, *, attributes: bool = True) -> dict[str, Any]:
    """Not an instrumentation: the floor that any of them stands on here. `reference_wrapper` around
    `Messages.create`: no extraction, pricing, content serialisation or metrics. Without `attributes`, the same span
    with none (`bench/inprocess.py`'s `span-only`: what the span itself costs in the call)."""
    import wrapt

    wrapper = reference_wrapper(tracer_provider, attributes=attributes)
    wrapt.wrap_function_wrapper("anthropic.resources.messages", "Messages.create", wrapper)
    return _native_off()


def _tokentrail_deferred(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    """An experiment, not a configuration tokentrail offers (run it with `--only tokentrail-deferred`): the end of
    each successful call (response attributes, output content, cost, `span.end`, the metric point) is handed to a
    background thread that drains every 5 ms: the design of finishing spans off the caller's thread. It shows what
    that design would take off the calling thread, and what it costs in all (span end times are late by up to the
    drain interval here, which does not matter for the measurement)."""
    import threading
    from collections import deque

    from tokentrail.instrumentation.recorder import call as recording

    options = _tokentrail(tracer_provider, meter_provider)
    end = recording.LLMCall._end
    pending: deque[tuple[Any, Any, bool]] = deque()

    def deferred_end(call: Any, response: Any, error: BaseException | None, *, cut: bool) -> None:
        if error is not None:
            end(call, response, error, cut=cut)
        else:
            pending.append((call, response, cut))

    def drain() -> None:
        while True:
            time.sleep(0.005)
            while pending:
                call, response, cut = pending.popleft()
                end(call, response, None, cut=cut)

    threading.Thread(target=drain, name="deferred-ends", daemon=True).start()
    recording.LLMCall._end = deferred_end  # type: ignore[method-assign]
    return options


COMPETITORS = {
    c.name: c
    for c in (
        Competitor("bare", "bare SDK (its tracing off)", None, _bare),
        Competitor("bare-again", "control: the bare SDK again, in another process", None, _bare),
        Competitor("native", "SDK native tracing", None, _native),
        Competitor("tokentrail", "tokentrail", "tokentrail", _tokentrail),
        Competitor("tokentrail-sdk-off", "tokentrail, SDK tracing off", None, _tokentrail_sdk_off),
        Competitor(
            "tokentrail-no-content", "tokentrail, SDK tracing off, content capture off", None, _tokentrail_no_content
        ),
        Competitor(
            "openllmetry",
            "OpenLLMetry",
            "opentelemetry-instrumentation-anthropic",
            _openllmetry,
            env={"TRACELOOP_TRACE_CONTENT": "true"},
        ),
        Competitor("openinference", "OpenInference", "openinference-instrumentation-anthropic", _openinference),
        Competitor(
            "otel-genai",
            "official genai-anthropic",
            "opentelemetry-instrumentation-genai-anthropic",
            _otel_genai,
            env={
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
                "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
            },
        ),
        Competitor("reference", "reference: one span, same attributes, nothing computed", None, _reference_span),
        Competitor(
            "tokentrail-deferred",
            "experiment: tokentrail, calls ended on a background thread",
            None,
            _tokentrail_deferred,
        ),
    )
}


def _with_sdk_tracing(peer: Competitor) -> Competitor:
    """`peer` with the SDK's own tracing left at its default (on, to the global provider), as SDK 2.x users run
    it: the peer's span and the SDK's, two per call."""

    def setup(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
        peer.setup(tracer_provider, meter_provider)
        return {}

    return Competitor(f"{peer.name}-sdk-on", f"{peer.label} + the SDK's own tracing", None, setup, peer.env)


_PEERS_WITH_SDK_TRACING = [
    _with_sdk_tracing(COMPETITORS[name]) for name in ("openllmetry", "openinference", "otel-genai")
]
COMPETITORS.update((c.name, c) for c in _PEERS_WITH_SDK_TRACING)
EXPERIMENTS = frozenset({"tokentrail-deferred", *(c.name for c in _PEERS_WITH_SDK_TRACING)})
"""Run only when named with `--only`."""
ALWAYS = ("bare", "bare-again")
"""Run in every run: the baseline, and the control that shows the run's resolution."""


# --- the worker ---------------------------------------------------------------------------------------------------


def _providers() -> tuple[Any, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DiscardSpans(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardSpans()))
    # Aggregation happens when a value is recorded; nothing ever collects (that would be export).
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return tracer_provider, meter_provider


def _call(client: Any, mode: str) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    if mode == "call":
        client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, messages=messages)
        return
    stream = client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, messages=messages, stream=True)
    for _ in stream:
        pass


def worker(name: str, base_url: str) -> int:
    """Serve measurement commands (JSON lines on stdin) for one competitor; answers go to the real stdout."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # library chatter must not corrupt the protocol
    competitor = COMPETITORS[name]
    os.environ.update(competitor.env)
    import anthropic

    tracer_provider, meter_provider = _providers()
    client_options = competitor.setup(tracer_provider, meter_provider)
    client = anthropic.Anthropic(api_key="bench", base_url=base_url, max_retries=0, **client_options)
    protocol.write(json.dumps({"ready": name}) + "\n")
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        mode, calls, warmup = command["mode"], command["calls"], command["warmup"]
        for _ in range(warmup):
            _call(client, mode)
        gc.collect()
        wall: list[int] = []
        cpu: list[int] = []
        process: list[int] = []
        wall_clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
        if command.get("profile"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(calls):
                _call(client, mode)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
            stats.print_stats(30)
            # the instrumentation's own functions and what they call in OpenTelemetry
            stats.print_stats("tokentrail|opentelemetry|wrapt|openinference|genai_prices", 40)
            stats.sort_stats("tottime").print_stats(25)
        else:
            process_start = time.process_time_ns()
            for _ in range(calls):
                wall_start, cpu_start = wall_clock(), cpu_clock()
                _call(client, mode)
                cpu.append(cpu_clock() - cpu_start)
                wall.append(wall_clock() - wall_start)
            # every thread of the worker (export thread, metric recording, garbage collection), over the batch
            process.append((time.process_time_ns() - process_start) // max(calls, 1))
        protocol.write(json.dumps({"wall": wall, "cpu": cpu, "process": process}) + "\n")
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return 0


# --- the orchestrator -----------------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[str]

    def run(self, mode: str, calls: int, warmup: int, profile: bool = False) -> dict[str, list[int]]:
        """Nanoseconds per call: `wall` (perf_counter) and `cpu` (the calling thread's CPU time) for each call;
        `process` (all threads' CPU time, mean over the batch) once."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        command = {"mode": mode, "calls": calls, "warmup": warmup, "profile": profile}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"worker {self.name} died (see its output above)")
        samples: dict[str, list[int]] = json.loads(answer)
        return samples

    def stop(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.flush()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _spawn_worker(name: str, base_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", name, "--base-url", base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _await_worker(name: str, process: subprocess.Popen[str]) -> Worker | None:
    """The worker once it has set up (its first line), or None when it could not start."""
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first:
        process.wait()
        print(f"  {name}: not available here (could not start; see the error above)", file=sys.stderr)
        return None
    return Worker(name, process)


def _start_worker(name: str, base_url: str) -> Worker | None:
    return _await_worker(name, _spawn_worker(name, base_url))


def _start_workers(names: Sequence[str], base_url: str) -> list[Worker]:
    """One fresh worker per competitor, started side by side (they idle once set up)."""
    spawned = [(name, _spawn_worker(name, base_url)) for name in names]
    return [w for w in (_await_worker(name, process) for name, process in spawned) if w is not None]


@contextlib.contextmanager
def _standin() -> Iterator[Any]:
    from tokentrail.dev.standin import StandinServer

    with StandinServer() as server:
        yield server


def _reply(events: int | None) -> Any:
    from tokentrail.dev.standin import MessageReply, TextBlock, Usage

    usage = Usage(input_tokens=48, output_tokens=26, cache_read_input_tokens=1200, cache_creation_input_tokens=300)
    if events is None:
        return MessageReply(content=[TextBlock(ANSWER)], model=MODEL + "-20260101", usage=usage)
    # One word per text delta: `events` deltas (plus the message and block framing events).
    text = " ".join(f"w{index}" for index in range(events))
    return MessageReply(content=[TextBlock(text)], model=MODEL + "-20260101", usage=usage, delta_chars=1)


METRICS = ("cpu", "wall", "process")
"""Per call: the calling thread's CPU time and wall time (one sample per call), and the whole worker process's CPU
time over the batch divided by its calls (one sample per batch: a mean, so it includes garbage collection)."""


@dataclass
class Result:
    median_us: float
    p90_us: float
    added_us: float | None
    added_spread: tuple[float, float] | None = None
    """The middle half (first to third quartile) of the per-round differences to bare."""


Rounds = dict[str, dict[str, dict[str, list[tuple[float, float]]]]]
"""competitor -> mode -> metric -> one (median µs, p90 µs) per round."""


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


MODES = {"call": None, "stream": SHORT_EVENTS, "stream-long": LONG_EVENTS}


def run_rounds(
    names: Sequence[str], rounds: int, calls: int, warmup: int, *, seed: int, slices: int
) -> tuple[Rounds, list[str]]:
    """Runs the interleaved rounds; returns the per-round figures and the competitors that could run.

    Every round starts a fresh worker process per competitor. The same code in two processes differs by tens of
    µs per call (memory layout, hash seed: the `bare-again` control row shows it), and a process kept for the
    whole run would carry its offset into every round; fresh ones turn it into noise that the median over rounds
    removes. Within a round each mode's calls are cut into `slices` batches, and the workers take turns batch by
    batch, so a slower or faster stretch of the shared machine falls on all of them alike."""
    slice_warmup = max(warmup // slices, 2)
    counts = {"call": calls, "stream": max(calls // 2, 10), "stream-long": max(calls // 10, 5)}
    rng = random.Random(seed)
    per_round: Rounds = {}
    ran: list[str] | None = None
    with _standin() as server:
        for round_index in range(rounds):
            workers = _start_workers(names if ran is None else ran, server.base_url)
            try:
                if ran is None:
                    ran = [w.name for w in workers]
                elif len(workers) != len(ran):
                    raise RuntimeError(f"round {round_index + 1}: a worker that ran before could not start")
                for mode, events in MODES.items():
                    samples: dict[str, dict[str, list[float]]] = {w.name: {m: [] for m in METRICS} for w in workers}
                    per_slice = max(counts[mode] // slices, 1)
                    for _ in range(slices):
                        order = list(workers)
                        rng.shuffle(order)
                        for worker_ in order:
                            server.reset()
                            server.enqueue(*([_reply(events)] * (per_slice + slice_warmup)))
                            answer = worker_.run("call" if mode == "call" else "stream", per_slice, slice_warmup)
                            if server.pending:
                                raise RuntimeError(f"{worker_.name} left {server.pending} replies unused")
                            for metric in METRICS:
                                samples[worker_.name][metric] += [sample / 1000 for sample in answer[metric]]
                    for name, by_metric in samples.items():
                        for metric, micros in by_metric.items():
                            per_round.setdefault(name, {}).setdefault(mode, {}).setdefault(metric, []).append(
                                (statistics.median(micros), _quantile(micros, 0.9))
                            )
            finally:
                for worker_ in workers:
                    worker_.stop()
            print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
    return per_round, ran or []


def summarise(
    per_round: Rounds, ran: Sequence[str]
) -> tuple[dict[str, dict[str, dict[str, Result]]], dict[str, dict[str, float | None]]]:
    """Medians over rounds: per competitor, mode and metric; and µs per stream event per competitor and metric."""
    results: dict[str, dict[str, dict[str, Result]]] = {}
    per_event: dict[str, dict[str, float | None]] = {}
    bare = per_round.get("bare")
    for name in ran:
        results[name] = {mode: {} for mode in MODES}
        per_event[name] = {}
        for mode in MODES:
            for metric in METRICS:
                rows = per_round[name][mode][metric]
                added = spread = None
                if bare is not None and name != "bare":
                    base = bare[mode][metric]
                    differences = [mine[0] - ref[0] for mine, ref in zip(rows, base, strict=True)]
                    added = statistics.median(differences)
                    if len(differences) >= 4:
                        quartiles = statistics.quantiles(differences, n=4)
                        spread = (quartiles[0], quartiles[2])
                results[name][mode][metric] = Result(
                    statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), added, spread
                )
        for metric in METRICS:
            if bare is None or name == "bare":
                per_event[name][metric] = None
                continue
            mine_long, mine_short = per_round[name]["stream-long"][metric], per_round[name]["stream"][metric]
            ref_long, ref_short = bare["stream-long"][metric], bare["stream"][metric]
            per_event[name][metric] = statistics.median(
                ((ml[0] - rl[0]) - (ms[0] - rs[0])) / (LONG_EVENTS - SHORT_EVENTS)
                for ml, ms, rl, rs in zip(mine_long, mine_short, ref_long, ref_short, strict=True)
            )
    return results, per_event


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def render(
    results: dict[str, dict[str, dict[str, Result]]],
    per_event: dict[str, dict[str, float | None]],
    ran: Sequence[str],
    args: argparse.Namespace,
) -> str:
    def number(value: float | None, signed: bool = False, digits: int = 0) -> str:
        if value is None:
            return "—"
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"

    def spread(bounds: tuple[float, float] | None) -> str:
        return "—" if bounds is None else f"{bounds[0]:+.0f} to {bounds[1]:+.0f}"

    distributions = [d for d in (COMPETITORS[name].distribution for name in ran) if d]
    lines = [
        DOCS_SECTION,
        "",
        measured(*distributions),
        "",
        f"Command: `make bench` (`nox -db uv -s bench`), here as `nox -db uv -s bench -- --rounds {args.rounds} "
        f"--calls {args.calls} --warmup {args.warmup} --slices {args.slices}`.",
        "",
        "One `messages.create` against the local stand-in (same request, reply and usage for everyone), with a real",
        "`TracerProvider` + `BatchSpanProcessor` and `MeterProvider` whose exporters discard, content capture on.",
        "Each round starts a fresh process per competitor and runs them one at a time in random order; every figure",
        f"is a median over {args.rounds} rounds (the same code differs by tens of µs per call from one process to the",
        "next: the *control* row, the bare SDK in a second process, shows the resolution). *CPU* is the calling",
        "thread's CPU time for the call (SDK + instrumentation; the server, the export thread and time spent",
        "descheduled are excluded), the robust measure on a shared machine;",
        "*wall* is elapsed time including the server's answer. *Process CPU* is the CPU time of all the worker's",
        "threads over a batch divided by its calls: it also counts the work an instrumentation moves off the calling",
        "thread (export, metric recording) and garbage collection, and is a mean, so it is noisier. *Added* is the",
        "difference to the bare SDK (its own tracing off) in the same round; its *middle half* is the first to third",
        "quartile of those per-round differences. *Per event* is the extra added CPU time",
        f"of a {LONG_EVENTS}-delta stream over a {SHORT_EVENTS}-delta one, per extra event.",
        "",
        "| competitor | CPU µs/call | CPU p90 | **added CPU µs/call** | added CPU: middle half of rounds "
        "| wall µs/call | wall p90 | added wall µs/call | added process CPU µs/call | stream: added CPU µs/call "
        "| **added CPU µs/event** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ran:
        cpu, wall = results[name]["call"]["cpu"], results[name]["call"]["wall"]
        process = results[name]["call"]["process"]
        stream = results[name]["stream"]["cpu"]
        lines.append(
            f"| {COMPETITORS[name].label} | {number(cpu.median_us)} | {number(cpu.p90_us)} | "
            f"{number(cpu.added_us, signed=True)} | {spread(cpu.added_spread)} | "
            f"{number(wall.median_us)} | {number(wall.p90_us)} | "
            f"{number(wall.added_us, signed=True)} | {number(process.added_us, signed=True)} | "
            f"{number(stream.added_us, signed=True)} | {number(per_event[name]['cpu'], signed=True, digits=2)} |"
        )
    lines += [
        "",
        "Targets for tokentrail: at most 60 µs added per non-streaming call (cost and content on), at most 2 µs per",
        "stream event.",
    ]
    return "\n".join(lines) + "\n"


def measured(*distributions: str, note: str = "") -> str:
    """The "Measured <date> on <machine>" line of a benchmark section: Python, anthropic, the OpenTelemetry SDK and
    `distributions`' versions, then `note`."""
    names = ("anthropic", "opentelemetry-sdk", *distributions)
    versions = ", ".join(f"{name} {_version(name)}" for name in names)
    return (
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {os.cpu_count()} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}; {versions}{note}."
    )


def publish(section: str, path: Path, heading: str = DOCS_SECTION) -> None:
    """Print a benchmark's section and write it into `path` under `heading` (not for a path of `-`)."""
    print(section)
    if str(path) != "-":
        write_docs(path, section.rstrip("\n") + "\n", heading)
        print(f"written to {path}", file=sys.stderr)


def write_docs(path: Path, section: str, heading: str = DOCS_SECTION) -> None:
    """Replace (or append) the section of `path` under `heading` (a `## ` line), leaving the rest of the file alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if end == -1 else text[end:])
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200, help="non-streaming calls per competitor per round")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls per round (spread over the slices)")
    parser.add_argument("--slices", type=int, default=5, help="batches per worker, mode and round, taken in turns")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--only", nargs="*", choices=list(COMPETITORS), help="competitors to run (bare and its control always run)"
    )
    parser.add_argument("--profile", choices=list(COMPETITORS), help="profile one competitor's calls instead")
    parser.add_argument(
        "--write-docs",
        type=Path,
        default=REPO / "docs" / "benchmarks.md",
        help="the Markdown file whose '## Per-call overhead' section is replaced ('-' for none)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.base_url)
    if args.profile:
        with _standin() as server:
            started = _start_worker(args.profile, server.base_url)
            if started is None:
                return 1
            # non-streaming calls, then long streams (where the per-event work dominates)
            for mode, events, calls in (("call", None, args.calls), ("stream", LONG_EVENTS, max(args.calls // 10, 5))):
                server.enqueue(*([_reply(events)] * (calls + args.warmup)))
                started.run(mode, calls, args.warmup, profile=True)
            started.stop()
        return 0

    names = list(ALWAYS)
    for name in COMPETITORS:
        if name not in ALWAYS and (name in args.only if args.only else name not in EXPERIMENTS):
            names.append(name)
    per_round, ran = run_rounds(names, args.rounds, args.calls, args.warmup, seed=args.seed, slices=args.slices)
    results, per_event = summarise(per_round, ran)
    publish(render(results, per_event, ran, args), args.write_docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
