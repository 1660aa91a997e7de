"""What one OpenTelemetry span costs alone, and how much more it costs between pieces of other Python work.

    .nox/bench/bin/python bench/span_floor.py [--spans 3000] [--repeat 3]

The span is `bench/overhead.py`'s reference span (CLIENT, made current and restored, the same 24 attributes, a
real `TracerProvider` with a `BatchSpanProcessor` to a discarding exporter), with and without its attributes. Each
span's calling-thread CPU time is measured on its own, in three settings:

- `alone`: spans back to back (a tight loop: caches and the allocator hold only the span's working set);
- `after memory`: each span follows a walk over 8 MiB (the CPU caches are cold, Python's heap is not disturbed);
- `after objects`: each span follows parsing a 150 KB JSON document (about 20,000 objects made and freed, as the
  SDK's request and response handling does).

It explains why every part of an instrumentation costs several times more inside an SDK call than in a tight loop
(docs/benchmarks.md); it is a diagnostic, not part of `make bench`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import overhead

_MEMORY = bytearray(8 * 1024 * 1024)
_DOCUMENT = json.dumps({f"key{i}": [i, str(i), {"x": i, "y": [i] * 3}] for i in range(2500)})


def _after_memory() -> None:
    for index in range(0, len(_MEMORY), 64):
        _MEMORY[index] = 1


def _after_objects() -> None:
    json.loads(_DOCUMENT)


SETTINGS: dict[str, Callable[[], None] | None] = {
    "alone": None,
    "after memory": _after_memory,
    "after objects": _after_objects,
}


def measure(tracer_provider: Any, spans: int, attributes: bool, before: Callable[[], None] | None) -> float:
    """Median calling-thread CPU µs of one span (started, made current and restored, attributes set, ended)."""
    wrapper = overhead.reference_wrapper(tracer_provider, attributes=attributes)

    def nothing() -> None:
        return None

    samples = []
    for _ in range(spans):
        if before is not None:
            before()
        start = time.thread_time_ns()
        wrapper(nothing, None, (), {})
        samples.append(time.thread_time_ns() - start)
    return statistics.median(samples) / 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spans", type=int, default=3000, help="spans measured per setting")
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting (the table shows each run)")
    args = parser.parse_args(argv)
    tracer_provider, _ = overhead._providers()  # the benchmark's: a BatchSpanProcessor to a discarding exporter
    print("| setting | span, 24 attributes (µs) | span, no attributes (µs) |")
    print("|---|---:|---:|")
    for name, before in SETTINGS.items():
        runs = {
            attributes: [measure(tracer_provider, args.spans, attributes, before) for _ in range(args.repeat)]
            for attributes in (True, False)
        }
        cells = [", ".join(f"{value:.1f}" for value in runs[attributes]) for attributes in (True, False)]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
