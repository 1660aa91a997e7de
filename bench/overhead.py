"""Per-call overhead of tokentrail and its peers over the bare Anthropic SDK.

    python bench/overhead.py [--rounds 9] [--calls 200] [--write-docs docs/benchmarks.md]   (or: make bench)

What it measures: the wall time of one `messages.create` call (and of one streamed call read to its end) through
the real SDK against the local stand-in, with each instrumentation installed, minus the same call on the bare SDK.

How, so that the numbers compare:
- Every competitor runs in its own worker subprocess (instrumentations cannot be cleanly un-patched together),
  each with a real SDK `TracerProvider` + `BatchSpanProcessor` and a real `MeterProvider`, exporting to exporters
  that discard: this measures instrumentation, not export. Content capture is on for everyone who has it.
- One stand-in server (a thread in this process, so no worker pays for it) answers every worker with the same
  scripted replies: same request, same reply, same usage (with cache tokens), same stream of events.
- Workers run one at a time, in rounds; each round visits every worker in a fresh random order, so machine noise
  (2 shared cores) spreads evenly. Each worker warms up before each batch. Per round we take each worker's median;
  the reported figures are medians over rounds of the per-round median, p90, and difference to bare.
- Per stream event: the added time of a long stream minus that of a short one, over the number of extra events.

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


def _tokentrail(tracer_provider: Any, meter_provider: Any) -> dict[str, Any]:
    from tokentrail import settings
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        settings=settings.load(env={}, capture_content=True, metrics=True),
    )
    # The SDK's own tracing stays at its default (on, global provider): tokentrail takes its span's place.
    return {}


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


COMPETITORS = {
    c.name: c
    for c in (
        Competitor("bare", "bare SDK (its tracing off)", None, _bare),
        Competitor("native", "SDK native tracing", None, _native),
        Competitor("tokentrail", "tokentrail", "tokentrail", _tokentrail),
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
    )
}


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
        samples = []
        clock = time.perf_counter_ns
        if command.get("profile"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(calls):
                _call(client, mode)
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
            stats.print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
        else:
            for _ in range(calls):
                start = clock()
                _call(client, mode)
                samples.append(clock() - start)
        protocol.write(json.dumps({"samples": samples}) + "\n")
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return 0


# --- the orchestrator -----------------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[str]

    def run(self, mode: str, calls: int, warmup: int, profile: bool = False) -> list[int]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        command = {"mode": mode, "calls": calls, "warmup": warmup, "profile": profile}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"worker {self.name} died (see its output above)")
        samples: list[int] = json.loads(answer)["samples"]
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


def _start_worker(name: str, base_url: str) -> Worker | None:
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", name, "--base-url", base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first:
        process.wait()
        print(f"  {name}: not available here (could not start; see the error above)", file=sys.stderr)
        return None
    return Worker(name, process)


@contextlib.contextmanager
def _standin() -> Iterator[Any]:
    from tokentrail.standin import StandinServer

    with StandinServer() as server:
        yield server


def _reply(events: int | None) -> Any:
    from tokentrail.standin import MessageReply, TextBlock, Usage

    usage = Usage(input_tokens=48, output_tokens=26, cache_read_input_tokens=1200, cache_creation_input_tokens=300)
    if events is None:
        return MessageReply(content=[TextBlock(ANSWER)], model=MODEL + "-20260101", usage=usage)
    # One word per text delta: `events` deltas (plus the message and block framing events).
    text = " ".join(f"w{index}" for index in range(events))
    return MessageReply(content=[TextBlock(text)], model=MODEL + "-20260101", usage=usage, delta_chars=1)


@dataclass
class Result:
    median_us: float
    p90_us: float
    added_us: float | None


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    names: Sequence[str], rounds: int, calls: int, warmup: int, seed: int
) -> tuple[dict[str, dict[str, Result]], dict[str, float | None], list[str]]:
    """Runs the rounds; returns results per competitor and mode, µs per stream event, and the competitors run."""
    modes = {"call": (None, calls), "stream": (SHORT_EVENTS, max(calls // 2, 10)), "stream-long": (LONG_EVENTS, 12)}
    rng = random.Random(seed)
    per_round: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with _standin() as server:
        workers = [w for w in (_start_worker(name, server.base_url) for name in names) if w is not None]
        try:
            for round_index in range(rounds):
                order = list(workers)
                rng.shuffle(order)
                for worker_ in order:
                    for mode, (events, count) in modes.items():
                        server.reset()
                        server.enqueue(*([_reply(events)] * (count + warmup)))
                        samples = worker_.run("call" if mode == "call" else "stream", count, warmup)
                        if server.pending:
                            raise RuntimeError(f"{worker_.name} left {server.pending} replies unused")
                        micros = [sample / 1000 for sample in samples]
                        per_round.setdefault(worker_.name, {}).setdefault(mode, []).append(
                            (statistics.median(micros), _quantile(micros, 0.9))
                        )
                print(f"  round {round_index + 1}/{rounds} done", file=sys.stderr)
        finally:
            for worker_ in workers:
                worker_.stop()
    ran = [w.name for w in workers]
    results: dict[str, dict[str, Result]] = {}
    per_event: dict[str, float | None] = {}
    for name in ran:
        results[name] = {}
        for mode in modes:
            rows = per_round[name][mode]
            added = None
            if "bare" in per_round and name != "bare":
                bare = per_round["bare"][mode]
                added = statistics.median(mine[0] - base[0] for mine, base in zip(rows, bare, strict=True))
            results[name][mode] = Result(
                statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), added
            )
        if "bare" in per_round and name != "bare":
            long_, short, bare_long, bare_short = (
                per_round[name]["stream-long"],
                per_round[name]["stream"],
                per_round["bare"]["stream-long"],
                per_round["bare"]["stream"],
            )
            per_event[name] = statistics.median(
                ((ml[0] - bl[0]) - (ms[0] - bs[0])) / (LONG_EVENTS - SHORT_EVENTS)
                for ml, ms, bl, bs in zip(long_, short, bare_long, bare_short, strict=True)
            )
        else:
            per_event[name] = None
    return results, per_event, ran


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
    results: dict[str, dict[str, Result]],
    per_event: dict[str, float | None],
    ran: Sequence[str],
    args: argparse.Namespace,
) -> str:
    def number(value: float | None, signed: bool = False) -> str:
        if value is None:
            return "—"
        return f"{value:+.0f}" if signed else f"{value:.0f}"

    versions = [f"anthropic {_version('anthropic')}", f"opentelemetry-sdk {_version('opentelemetry-sdk')}"]
    for name in ran:
        distribution = COMPETITORS[name].distribution
        if distribution:
            versions.append(f"{distribution} {_version(distribution)}")
    lines = [
        DOCS_SECTION,
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {os.cpu_count()} cores ({_cpu_model()}), "
        f"Python {platform.python_version()}; {', '.join(versions)}.",
        "",
        f"Command: `make bench` (`nox -db uv -s bench`, which runs `python bench/overhead.py "
        f"--rounds {args.rounds} --calls {args.calls} --warmup {args.warmup}`).",
        "",
        "Wall time of one `messages.create` against the local stand-in (same request, reply and usage for everyone),",
        "real `TracerProvider` + `BatchSpanProcessor` and `MeterProvider` with exporters that discard, content capture",
        "on. Each competitor runs in its own process; rounds interleave them in random order; figures are medians over",
        f"{args.rounds} rounds. *Added* is the difference to the bare SDK (its own tracing off) in the same round.",
        f"*Per event* is the extra added time of a {LONG_EVENTS}-delta stream over a {SHORT_EVENTS}-delta one, per "
        "extra event.",
        "",
        "| competitor | call median µs | call p90 µs | added µs/call | stream median µs | stream added µs/call "
        "| added µs/event |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ran:
        call, stream = results[name]["call"], results[name]["stream"]
        lines.append(
            f"| {COMPETITORS[name].label} | {number(call.median_us)} | {number(call.p90_us)} | "
            f"{number(call.added_us, signed=True)} | {number(stream.median_us)} | "
            f"{number(stream.added_us, signed=True)} | "
            + ("—" if per_event[name] is None else f"{per_event[name]:+.2f}")
            + " |"
        )
    lines += [
        "",
        "Targets for tokentrail: at most 60 µs added per non-streaming call (cost and content on), at most 2 µs per",
        "stream event.",
    ]
    return "\n".join(lines) + "\n"


def write_docs(path: Path, section: str) -> None:
    """Replace (or append) the `## Per-call overhead` section of `path`, leaving the rest of the file alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(DOCS_SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(DOCS_SECTION))
        text = text[:start] + section + ("" if end == -1 else text[end:])
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=200, help="non-streaming calls per competitor per round")
    parser.add_argument("--warmup", type=int, default=20, help="calls before each measured batch")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--only", nargs="*", choices=list(COMPETITORS), help="competitors to run (bare always runs)")
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
            for mode in ("call", "stream"):
                server.enqueue(*([_reply(None if mode == "call" else SHORT_EVENTS)] * (args.calls + args.warmup)))
                started.run(mode, args.calls, args.warmup, profile=True)
            started.stop()
        return 0

    names = ["bare", *[name for name in COMPETITORS if name != "bare" and (not args.only or name in args.only)]]
    results, per_event, ran = measure(names, args.rounds, args.calls, args.warmup, args.seed)
    section = render(results, per_event, ran, args)
    print(section)
    if str(args.write_docs) != "-":
        write_docs(args.write_docs, section)
        print(f"written to {args.write_docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
