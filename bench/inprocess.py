"""tokentrail's per-call and per-event cost measured inside one process, switched on and off between short batches.

    .nox/bench/bin/python bench/inprocess.py [--pairs 100] [--calls 40] [--subject same-moments|parts|...]
        [--transport http|memory]

Why a second harness: `bench/overhead.py` compares separate processes (instrumentations cannot be un-patched
together), and two processes running the same code differ by tens of µs per call; its control row shows that
resolution. Here one process measures every side: the SDK's `Messages.create` is swapped between the original
and the instrumented functions (or one part of tokentrail is switched off) before each batch; the sides' batches
follow each other in rotating orders, and a figure is the median over rounds of the difference between two
sides' batch medians. No process offset enters; the price is that peers cannot be measured this way.

Subjects (SDK tracing off, as in `bench/overhead.py`'s `tokentrail-sdk-off` row):

- `same-moments`: the bare SDK, the reference span and tokentrail, all three in each round: tokentrail's own
  work (tokentrail minus the reference) is a difference of batches taken moments apart, which a host whose speed
  drifts (shared, throttled) moves far less than two separate runs;
- `parts`: tokentrail with everything on and with each of content, metrics, pricing and app context off;
- `tokentrail`, `reference`: each alone against the bare SDK (the reference: `bench/overhead.py`'s reference
  span, one span with the same attributes as constants: the floor);
- `span-only`: the same span with no attributes at all against the bare SDK: what the span itself costs;
- `content`, `metrics`, `pricing`, `app-context`: one part on against off, alone.

Transports: `http`, real HTTP to the stand-in; `memory`, the stand-in's answers recorded once and replayed by an
in-memory httpx transport (the SDK's whole path, no socket: a smaller, steadier base, so tighter intervals).

Not a test; `make bench` runs `DEFAULT_RUNS` and writes the table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

SAME_MOMENTS = "same-moments"
"""The subject that holds the bare SDK, the reference span and tokentrail in one process, batches of the three in
turn: own work (tokentrail minus the reference) is then a difference of batches taken moments apart."""
PARTS_SUBJECT = "parts"
"""The subject that holds tokentrail with everything on and with each part off in turn, in one process: each
part's cost is a difference of batches taken moments apart."""
PARTS = {
    "content": "_content",
    "metrics": "_instruments",
    "pricing": "_pricebook",
    "app-context": "_context_attributes",
}
"""Part -> the `Recorder` slot that holds it (switched off by replacing it)."""
SUBJECTS = (SAME_MOMENTS, PARTS_SUBJECT, "tokentrail", "reference", "span-only", *PARTS)


def _switch(subject: str, tracer_provider: Any, meter_provider: Any) -> tuple[tuple[str, ...], Callable[[str], None]]:
    """Set up `subject`; return its sides (the first is the baseline) and the function that switches to one."""
    import overhead
    from anthropic.resources.messages import Messages

    original = Messages.__dict__["create"]
    if subject == SAME_MOMENTS:
        overhead._reference_span(tracer_provider, meter_provider)
        reference = Messages.__dict__["create"]
        Messages.create = original  # type: ignore[method-assign]
        overhead.instrument_tokentrail(tracer_provider, meter_provider)
        functions = {"bare": original, "reference": reference, "tokentrail": Messages.__dict__["create"]}

        def switch_create(side: str) -> None:
            Messages.create = functions[side]  # type: ignore[method-assign]

        return tuple(functions), switch_create
    if subject in ("reference", "span-only"):
        overhead._reference_span(tracer_provider, meter_provider, attributes=subject == "reference")
        instrumented = Messages.__dict__["create"]

        def switch(side: str) -> None:
            Messages.create = instrumented if side == "on" else original  # type: ignore[method-assign]

        return ("off", "on"), switch
    from tokentrail.instrumentation.recorder import recorder as recording

    instrumentor = overhead.instrument_tokentrail(tracer_provider, meter_provider)
    instrumented = Messages.__dict__["create"]
    if subject == "tokentrail":

        def switch_all(side: str) -> None:
            Messages.create = instrumented if side == "on" else original  # type: ignore[method-assign]

        return ("off", "on"), switch_all
    adapters = instrumentor._adapters
    recorder = adapters._recorder
    kept = {part: getattr(recorder, slot) for part, slot in PARTS.items()}
    off = {part: recording._no_context_attributes if part == "app-context" else None for part in PARTS}

    def switch_parts(side: str) -> None:
        """`all`: every part on; a part's name: that part off (a single-part subject: `on` / `off`)."""
        without = subject if side == "off" else side
        for part, slot in PARTS.items():
            setattr(recorder, slot, off[part] if part == without else kept[part])
        adapters._capture = without != "content"  # streams also keep their text only while capturing

    if subject == PARTS_SUBJECT:
        return ("all", *PARTS), switch_parts
    return ("off", "on"), switch_parts


def _orders(sides: Sequence[str]) -> list[tuple[str, ...]]:
    """The orders the sides' batches take in successive pairs: each rotation of the sides, forwards then
    backwards, so every side comes first, and before and after every other, equally often (drift inside a pair
    then cancels over pairs)."""
    forwards = [tuple(sides[i:]) + tuple(sides[:i]) for i in range(len(sides))]
    return forwards + [order[::-1] for order in forwards]


TRANSPORTS = ("http", "memory")
"""`http`: real HTTP to the stand-in (a socket per call, the stand-in's threads in this process); `memory`: the
stand-in's recorded answers replayed by an in-memory httpx transport, so the SDK does all its work (request,
response parsing, SSE decoding) but no socket is touched: the same difference with a smaller, steadier base."""


def _replayed(server: Any, modes: dict[str, tuple[int | None, int]]) -> tuple[Any, Callable[[str], None]]:
    """An httpx client that answers each request with the stand-in's recorded answer for the current mode, and the
    function that sets the mode. The answers are recorded once, through the real SDK, over real HTTP."""
    import anthropic
    import overhead
    from anthropic import _base_client

    # The SDK's own httpx: `httpx2` from SDK 2.16 on (it refuses clients of the other package), `httpx` before.
    httpx = getattr(_base_client, "httpx2", None) or _base_client.httpx
    recorded: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
    live = httpx.HTTPTransport()

    class Recording(httpx.BaseTransport):  # type: ignore[name-defined,misc]
        mode = "call"

        def handle_request(self, request: Any) -> Any:
            response = live.handle_request(request)
            body = response.read()
            headers = [(k, v) for k, v in response.headers.items() if k not in ("content-length", "transfer-encoding")]
            recorded[self.mode] = (response.status_code, headers, body)
            return httpx.Response(response.status_code, headers=headers, content=body)

    recording = Recording()
    client = anthropic.Anthropic(
        api_key="bench",
        base_url=server.base_url,
        max_retries=0,
        http_client=httpx.Client(transport=recording),
        **overhead._native_off(),
    )
    for mode, (events, _) in modes.items():
        recording.mode = mode
        server.reset()
        server.enqueue(overhead._reply(events))
        overhead._call(client, "call" if mode == "call" else "stream")
    current = ["call"]

    def answer(request: Any) -> Any:
        status, headers, body = recorded[current[0]]
        return httpx.Response(status, headers=headers, content=body)

    def set_mode(mode: str) -> None:
        current[0] = mode

    return httpx.Client(transport=httpx.MockTransport(answer)), set_mode


def measure(subject: str, pairs: int, calls: int, transport: str = "http") -> dict[str, dict[str, list[float]]]:
    """Per pair, per mode, per side: the batch's median calling-thread CPU µs per call. Modes: `call`, `stream`
    (a short stream) and `stream-long`; the differences between sides are taken by `rows`."""
    import anthropic
    import overhead

    from tokentrail.dev.standin import StandinServer

    tracer_provider, meter_provider = overhead._providers()
    sides, switch = _switch(subject, tracer_provider, meter_provider)
    orders = _orders(sides)
    modes = {
        "call": (None, calls),
        "stream": (overhead.SHORT_EVENTS, calls // 2),
        "stream-long": (overhead.LONG_EVENTS, max(calls // 10, 3)),
    }
    with StandinServer() as server:
        options: dict[str, Any] = overhead._native_off()
        set_mode: Callable[[str], None] | None = None
        if transport == "memory":
            options["http_client"], set_mode = _replayed(server, modes)
        client = anthropic.Anthropic(api_key="bench", base_url=server.base_url, max_retries=0, **options)

        def batch(mode: str, count: int) -> float:
            if set_mode is None:
                events, _ = modes[mode]
                server.reset()
                server.enqueue(*([overhead._reply(events)] * count))
            else:
                set_mode(mode)
            samples = []
            for _ in range(count):
                start = time.thread_time_ns()
                overhead._call(client, "call" if mode == "call" else "stream")
                samples.append(time.thread_time_ns() - start)
            return statistics.median(samples) / 1000

        for side in sides:  # warm every side
            switch(side)
            for mode, (_, count) in modes.items():
                batch(mode, count)
        medians: dict[str, dict[str, list[float]]] = {mode: {side: [] for side in sides} for mode in modes}
        for index in range(pairs):
            for mode, (_, count) in modes.items():
                for side in orders[index % len(orders)]:
                    switch(side)
                    batch(mode, 2)  # back in this side's code
                    medians[mode][side].append(batch(mode, count))
    return medians


def _added(medians: dict[str, dict[str, list[float]]], side: str, base: str) -> dict[str, list[float]]:
    """Per pair: what `side` adds over `base`, µs per call and per stream event (long minus short stream)."""

    def difference(mode: str) -> list[float]:
        return [on - off for on, off in zip(medians[mode][side], medians[mode][base], strict=True)]

    import overhead

    long, short = difference("stream-long"), difference("stream")
    events = overhead.LONG_EVENTS - overhead.SHORT_EVENTS
    return {"call": difference("call"), "event": [(a - b) / events for a, b in zip(long, short, strict=True)]}


def rows(subject: str, transport: str, medians: dict[str, dict[str, list[float]]]) -> list[str]:
    import overhead

    """The subject's table rows: each side against the baseline; for `same-moments` also tokentrail against the
    reference (own work) and that as a share of the reference span; for `parts`, each part (everything on
    against everything but that part)."""
    where = "" if transport == "http" else f", {transport} transport"
    if subject == PARTS_SUBJECT:
        parts = [(part, _added(medians, "all", part)) for part in PARTS]
        return [
            f"| {part}, same moments{where} | {_summary(added['call'], 1)} | {_summary(added['event'], 2)} |"
            for part, added in parts
        ]
    if subject != SAME_MOMENTS:
        added = _added(medians, "on", "off")
        return [f"| {subject}{where} | {_summary(added['call'], 1)} | {_summary(added['event'], 2)} |"]
    bare_call = statistics.median(medians["call"]["bare"])
    bare_event = statistics.median(
        (long - short) / (overhead.LONG_EVENTS - overhead.SHORT_EVENTS)
        for long, short in zip(medians["stream-long"]["bare"], medians["stream"]["bare"], strict=True)
    )
    tokentrail = _added(medians, "tokentrail", "bare")
    reference = _added(medians, "reference", "bare")
    own = _added(medians, "tokentrail", "reference")
    share = statistics.median(own["call"]) / statistics.median(reference["call"])
    return [
        f"| tokentrail, same moments{where} | {_summary(tokentrail['call'], 1)} | {_summary(tokentrail['event'], 2)} |",
        f"| reference, same moments{where} | {_summary(reference['call'], 1)} | {_summary(reference['event'], 2)} |",
        f"| **own work: tokentrail over the reference{where}** | **{_summary(own['call'], 1)}** "
        f"| **{_summary(own['event'], 2)}** |",
        f"| own work per reference span{where} (median over median) | {share:.2f} | |",
        f"| the bare SDK itself{where}: CPU µs per call and per event, not added (the host's yardstick) "
        f"| {bare_call:.0f} | {bare_event:.2f} |",
    ]


def _summary(values: Sequence[float], digits: int) -> str:
    """The median and its 95% confidence interval (order statistics: distribution-free)."""
    ordered = sorted(values)
    count = len(ordered)
    below = max(int(count / 2 - 0.98 * math.sqrt(count)), 0)
    low, high = ordered[below], ordered[count - 1 - below]
    return f"{statistics.median(ordered):+.{digits}f} ({low:+.{digits}f} to {high:+.{digits}f})"


DOCS_SECTION = "## tokentrail's own cost, in one process"
DEFAULT_RUNS = (
    (SAME_MOMENTS, "http"),
    (SAME_MOMENTS, "memory"),
    (PARTS_SUBJECT, "memory"),
    ("span-only", "http"),
    ("span-only", "memory"),
)
"""What `make bench` runs (each in its own process): tokentrail and the reference span at the same moments over
both transports, the parts over the steadier one, and what the span alone costs."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--subject", choices=SUBJECTS, action="append", help="default: DEFAULT_RUNS, each in its own process"
    )
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
    parser.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default="http",
        help="for the named subjects (default: http); the default run adds same-moments over memory",
    )
    parser.add_argument("--worker", choices=SUBJECTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.no_gc:
            gc.disable()
        for row in rows(args.worker, args.transport, measure(args.worker, args.pairs, args.calls, args.transport)):
            print(row, flush=True)
        return 0
    import overhead

    table: list[str] = []
    runs = [(subject, args.transport) for subject in args.subject or ()] or list(DEFAULT_RUNS)
    for subject, transport in runs:
        command = [
            sys.executable,
            __file__,
            "--worker",
            subject,
            "--pairs",
            str(args.pairs),
            "--calls",
            str(args.calls),
            "--transport",
            transport,
            *(["--no-gc"] if args.no_gc else []),
        ]
        answer = subprocess.run(command, check=True, capture_output=True, text=True)
        table.extend(line for line in answer.stdout.splitlines() if line.startswith("| "))
        print(f"  {subject} over {transport} done", file=sys.stderr)
    section = "\n".join(
        [
            DOCS_SECTION,
            "",
            overhead.measured(),
            "",
            f"Command: `make bench`, here as `python bench/inprocess.py --pairs {args.pairs} --calls {args.calls}"
            f"{' --no-gc' if args.no_gc else ''}`.",
            "",
            "Each subject's sides (the bare SDK, the reference span, tokentrail, tokentrail with one part off) are",
            "switched inside one process between short batches (the SDK's own tracing off), over real HTTP to the",
            "stand-in or over an in-memory transport replaying its answers (the SDK's whole path, no socket), in",
            f"{args.pairs} rounds of {args.calls}-call batches per side and mode, the sides in rotating orders. Each",
            "figure is the median over rounds of the difference between two sides' batch medians of calling-thread",
            'CPU time, with the 95% confidence interval of that median. "Same moments": the three sides in every',
            "round, so tokentrail's own work (tokentrail minus the reference span) is a difference of batches taken",
            "seconds apart; a part's row is everything on against everything but that part; `span-only` is the",
            "reference's span with no attributes against the bare SDK. No process offset enters (see the control row",
            "above); peers cannot be switched off in place, so they are not here.",
            "",
            "| switched on and off | added CPU µs/call | added CPU µs/event |",
            "|---|---:|---:|",
            *table,
        ]
    )
    overhead.publish(section, args.write_docs, DOCS_SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
