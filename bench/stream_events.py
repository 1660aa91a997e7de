"""What one stream event costs in tokentrail's own code, without I/O: the pieces of the per-event path.

    .venv/bin/python bench/stream_events.py [--events 400] [--repeat 40]

The stream proxy and the Messages accumulator are run over real SDK event objects (`content_block_delta` with a
text delta) held in a list, so no socket, SSE decoding or SDK work enters; each figure is the median over
`--repeat` passes of the calling thread's CPU time per event, minus a bare loop over the same list:

- `proxy, content on` / `off`: the whole per-event path (the proxy's generator and the accumulator), with the
  text kept or not;
- `accumulator, content on` / `off`: `MessageAccumulator.add` alone (with the SDK's classes for its fast path, as
  the instrumentor sets it up).

It complements `bench/inprocess.py`'s per-event column (the same path inside real calls). Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args(argv)

    from anthropic.types import RawContentBlockDeltaEvent, TextDelta
    from opentelemetry.sdk.trace import TracerProvider

    from tokentrail.instrumentation.anthropic.accumulator import MessageAccumulator, fast_path
    from tokentrail.instrumentation.recorder.recorder import Recorder
    from tokentrail.instrumentation.recorder.records import Request
    from tokentrail.instrumentation.recorder.streams import StreamProxy

    events = [
        RawContentBlockDeltaEvent(
            type="content_block_delta", index=0, delta=TextDelta(type="text_delta", text=f"w{i} ")
        )
        for i in range(args.events)
    ]
    block_start = SimpleNamespace(
        type="content_block_start", index=0, content_block=SimpleNamespace(type="text", text="")
    )
    recorder = Recorder(TracerProvider().get_tracer("bench"))
    fast = fast_path()

    def accumulator(capture: bool) -> MessageAccumulator:
        made = MessageAccumulator(capture=capture, fast=fast)
        made.add(block_start)
        return made

    def bare() -> None:
        for _ in iter(events):
            pass

    def proxy(capture: bool) -> None:
        call = recorder.start(Request("chat", "model", {}, "anthropic"))
        for _ in StreamProxy(iter(events), call, accumulator(capture)):
            pass
        call.stop(None)

    def add_only(capture: bool) -> None:
        add = accumulator(capture).add
        for event in events:
            add(event)

    def per_event(function: Callable[..., Any], *arguments: Any) -> float:
        samples = []
        for _ in range(args.repeat):
            start = time.thread_time_ns()
            function(*arguments)
            samples.append(time.thread_time_ns() - start)
        return statistics.median(samples) / args.events / 1000

    per_event(proxy, True)  # warm
    base = per_event(bare)
    rows = [
        ("proxy, content on", per_event(proxy, True)),
        ("proxy, content off", per_event(proxy, False)),
        ("accumulator, content on", per_event(add_only, True)),
        ("accumulator, content off", per_event(add_only, False)),
    ]
    print("| piece | CPU µs per event |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value - base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
