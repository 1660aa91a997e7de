"""tokentrail's per-call and per-event cost measured inside one process, switched on and off between short batches.

    .nox/bench/bin/python bench/inprocess.py [--pairs 100] [--calls 40] [--subject tokentrail|reference|content|...]

Why a second harness: `bench/overhead.py` compares separate processes (instrumentations cannot be un-patched
together), and two processes running the same code differ by tens of µs per call; its control row shows that
resolution. Here one process measures both sides: the SDK's `Messages.create` is swapped between the instrumented
and the original function (or one part of tokentrail is switched off) before each batch, batches alternate in
pairs, and the figure is the median over pairs of the difference between the two medians. No process offset
enters, so the resolution is a few µs; the price is that peers cannot be measured this way.

Subjects (SDK tracing off, as in `bench/overhead.py`'s `tokentrail-sdk-off` row, real HTTP to the stand-in):

- `tokentrail`: all of tokentrail, content capture, cost and metrics on, against the bare SDK;
- `reference`: `bench/overhead.py`'s reference span (one span, the same attributes as constants) against the
  bare SDK: the floor;
- `span-only`: the same span with no attributes at all against the bare SDK: what the OpenTelemetry span itself
  costs in the call;
- `content`, `metrics`, `pricing`, `app-context`: tokentrail with that part on against tokentrail without it.

Not a test; `make bench` runs it and writes its table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

SUBJECTS = ("tokentrail", "reference", "span-only", "content", "metrics", "pricing", "app-context")
PARTS = {
    "content": "_content",
    "metrics": "_instruments",
    "pricing": "_pricebook",
    "app-context": "_context_attributes",
}
"""Subject -> the `Recorder` slot that holds the part (switched off by replacing it)."""


def _switch(subject: str, tracer_provider: Any, meter_provider: Any) -> Callable[[bool], None]:
    """Set up `subject`; return the function that switches it on (True) or off (False)."""
    import overhead
    from anthropic.resources.messages import Messages

    original = Messages.create
    if subject in ("reference", "span-only"):
        overhead._reference_span(tracer_provider, meter_provider, attributes=subject == "reference")
    else:
        from tokentrail.instrumentation.recorder import recorder as recording

        instrumentor = overhead.instrument_tokentrail(tracer_provider, meter_provider)
        if subject in PARTS:
            recorder = instrumentor._adapters._recorder
            slot = PARTS[subject]
            kept = getattr(recorder, slot)
            off = recording._no_context_attributes if subject == "app-context" else None

            adapters = instrumentor._adapters

            def switch_part(on: bool) -> None:
                setattr(recorder, slot, kept if on else off)
                if subject == "content":  # streams also keep their text only while capturing
                    adapters._capture = on

            return switch_part
    instrumented = Messages.__dict__["create"]

    def switch(on: bool) -> None:
        Messages.create = instrumented if on else original  # type: ignore[method-assign]

    return switch


def measure(subject: str, pairs: int, calls: int) -> dict[str, list[float]]:
    """Per pair: added calling-thread CPU µs per call, and per stream event (long minus short stream)."""
    import anthropic
    import overhead

    from tokentrail.dev.standin import StandinServer

    tracer_provider, meter_provider = overhead._providers()
    switch = _switch(subject, tracer_provider, meter_provider)
    modes = {
        "call": (None, calls),
        "stream": (overhead.SHORT_EVENTS, calls // 2),
        "stream-long": (overhead.LONG_EVENTS, max(calls // 10, 3)),
    }
    with StandinServer() as server:
        client = anthropic.Anthropic(api_key="bench", base_url=server.base_url, max_retries=0, **overhead._native_off())

        def batch(mode: str, count: int) -> float:
            events, _ = modes[mode]
            server.reset()
            server.enqueue(*([overhead._reply(events)] * count))
            samples = []
            for _ in range(count):
                start = time.thread_time_ns()
                overhead._call(client, "call" if mode == "call" else "stream")
                samples.append(time.thread_time_ns() - start)
            return statistics.median(samples) / 1000

        for on in (True, False):  # warm both sides
            switch(on)
            for mode, (_, count) in modes.items():
                batch(mode, count)
        added: dict[str, list[float]] = {mode: [] for mode in modes}
        for index in range(pairs):
            for mode, (_, count) in modes.items():
                medians = {}
                for on in (True, False) if index % 2 else (False, True):
                    switch(on)
                    batch(mode, 2)  # back in this side's code
                    medians[on] = batch(mode, count)
                added[mode].append(medians[True] - medians[False])
    per_event = [
        (long - short) / (overhead.LONG_EVENTS - overhead.SHORT_EVENTS)
        for long, short in zip(added["stream-long"], added["stream"], strict=True)
    ]
    return {"call": added["call"], "event": per_event}


def _summary(values: Sequence[float], digits: int) -> str:
    """The median and its 95% confidence interval (order statistics: distribution-free)."""
    ordered = sorted(values)
    count = len(ordered)
    below = max(int(count / 2 - 0.98 * math.sqrt(count)), 0)
    low, high = ordered[below], ordered[count - 1 - below]
    return f"{statistics.median(ordered):+.{digits}f} ({low:+.{digits}f} to {high:+.{digits}f})"


DOCS_SECTION = "## tokentrail's own cost, in one process"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subject", choices=SUBJECTS, action="append", help="default: all, each in its own process")
    parser.add_argument("--pairs", type=int, default=100, help="on/off batch pairs per mode")
    parser.add_argument("--calls", type=int, default=40, help="non-streaming calls per batch")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="a diagnostic: the cyclic garbage collector off in the measuring process (do collections explain a cost?)",
    )
    parser.add_argument(
        "--write-docs",
        type=Path,
        default=REPO / "docs" / "benchmarks.md",
        help=f"the Markdown file whose '{DOCS_SECTION}' section is replaced ('-' for none)",
    )
    parser.add_argument("--worker", choices=SUBJECTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.no_gc:
            gc.disable()
        result = measure(args.worker, args.pairs, args.calls)
        print(f"| {args.worker} | {_summary(result['call'], 1)} | {_summary(result['event'], 2)} |", flush=True)
        return 0
    import overhead

    rows = []
    for subject in args.subject or SUBJECTS:
        command = [
            sys.executable,
            __file__,
            "--worker",
            subject,
            "--pairs",
            str(args.pairs),
            "--calls",
            str(args.calls),
            *(["--no-gc"] if args.no_gc else []),
        ]
        answer = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(answer.stdout.strip().splitlines()[-1])
        print(f"  {subject} done", file=sys.stderr)
    versions = ", ".join(f"{name} {overhead._version(name)}" for name in ("anthropic", "opentelemetry-sdk"))
    section = "\n".join(
        [
            DOCS_SECTION,
            "",
            f"Measured {datetime.now(timezone.utc):%Y-%m-%d} on {os.cpu_count()} cores ({overhead._cpu_model()}), "
            f"Python {platform.python_version()}; {versions}.",
            "",
            f"Command: `make bench`, here as `python bench/inprocess.py --pairs {args.pairs} --calls {args.calls}"
            f"{' --no-gc' if args.no_gc else ''}`.",
            "",
            "Each subject is switched on and off inside one process between short batches (the SDK's own tracing",
            f"off, real HTTP to the stand-in), in {args.pairs} on/off pairs of {args.calls}-call batches per mode;",
            "each figure is the median over pairs of the difference between the two batches' median calling-thread",
            "CPU time, with the 95% confidence interval of that median. `tokentrail`, `reference` and `span-only`",
            "(the reference's span with no attributes) are against the bare SDK; `content`, `metrics`, `pricing` and",
            "`app-context` are tokentrail with that part on against tokentrail without it.",
            "No process offset enters (see the control row above), so these are the sharpest figures of",
            "tokentrail's own cost; peers cannot be switched off in place, so they are not here.",
            "",
            "| switched on and off | added CPU µs/call | added CPU µs/event |",
            "|---|---:|---:|",
            *rows,
        ]
    )
    print(section)
    if str(args.write_docs) != "-":
        overhead.write_docs(args.write_docs, section + "\n", DOCS_SECTION)
        print(f"written to {args.write_docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
