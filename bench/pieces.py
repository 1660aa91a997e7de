"""The pieces of tokentrail's per-call work, each alone: CPU time with caches as cold as in a call, or instructions.

    .venv/bin/python bench/pieces.py [--reps 450] [piece ...]          # time: median ns per piece
    .venv/bin/python bench/pieces.py --count [--reps 20] [piece ...]   # instructions per piece (callgrind)

`bench/instructions.py` and `bench/inprocess.py` say how much tokentrail adds to a call; this says where. One
process sets up the same sides as their `same-moments` subject (the bare SDK, the reference span, tokentrail with
content, cost and metrics on; the SDK's answers replayed in memory), takes the bench call's real arguments and
SDK `Message`, and runs each piece of the hot path on them: the request (`chat_request`), the request content,
the app attributes, the call object, the response (`message_response` and its parts: the usage read, its
attributes, the priced usage), the price, the response content, the metric point, the span's start and end.

Time: each repetition first makes one bare SDK call (which evicts what the piece touched from the caches, as the
SDK's own work does in a real call), then times the piece alone with `perf_counter_ns`; the figure is the median
over repetitions, less an empty piece's. Pieces are not additive (a real call shares caches between them) and
the host's load moves them: compare pieces within one run. Count: the process reruns itself under valgrind's
callgrind with collection switched on around each piece only (client requests, `bench/instructions.py`'s helper);
instructions per piece, less an empty piece's, the same on any load. Instructions per µs (count over time) shows
which pieces are slow for their size.

Not a test, not part of `make bench`: a tool for working on the hot path.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EMPTY = "empty"

Piece = tuple[Callable[[], Any], Callable[[Any], Any]]
"""(prepare, run): `run(prepare())` is the piece; only `run` is timed or counted."""


def _pieces() -> tuple[dict[str, Piece], Callable[[], None]]:
    """The pieces, on the bench call's real arguments and answer, and a bare SDK call (the cache evictor)."""
    sys.path.insert(0, str(REPO / "bench"))
    import instructions
    import overhead
    from opentelemetry.trace import INVALID_SPAN

    from tokentrail.contract import anthropic as contract
    from tokentrail.contract import semconv, shapes
    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor, responses
    from tokentrail.instrumentation.anthropic import requests as chat
    from tokentrail.instrumentation.recorder.call import LLMCall

    _, switch, client, set_mode, _ = instructions.quiet_sides("same-moments", {"call": (None, 1)})
    set_mode("call")
    kwargs: dict[str, Any] = {
        "model": overhead.MODEL,
        "max_tokens": 1024,
        "system": overhead.SYSTEM,
        "messages": [{"role": "user", "content": overhead.PROMPT}],
    }
    switch("bare")
    message = client.messages.create(**kwargs)
    adapters = AnthropicInstrumentor()._adapters  # the instrumentor is a singleton
    recorder = adapters._recorder
    content = recorder._content
    instruments = recorder._instruments
    tracer = recorder._tracer
    resource = client.messages
    usage = contract.read_usage(message.usage)
    if usage is None or content is None or instruments is None:
        raise SystemExit("bench/pieces.py: the bench call gave no usage, or content capture or metrics are off")

    def request() -> Any:
        return chat.chat_request(resource, kwargs, stream=False)

    def started() -> Any:
        return adapters._start(adapters.chat, resource, (), kwargs)

    def started_with_response() -> tuple[Any, Any]:
        return started(), responses.message_response(message)

    def ended_with_response() -> tuple[Any, Any]:
        call, response = started_with_response()
        call._open.pop()  # the metric piece runs after the end
        return call, response

    def nothing() -> None:
        return None

    pieces: dict[str, Piece] = {
        EMPTY: (nothing, lambda _: None),
        "request": (nothing, lambda _: request()),
        "request content": (nothing, lambda _: content.request_attributes(kwargs, {})),
        "app attributes": (nothing, lambda _: recorder._context_attributes()),
        "call object": (request, lambda r: LLMCall(recorder, r, INVALID_SPAN)),
        "span start": (
            lambda: dict(request().attributes),
            lambda a: tracer.start_span(semconv.span_name(semconv.OP_CHAT, overhead.MODEL), attributes=a),
        ),
        "response": (nothing, lambda _: responses.message_response(message)),
        "response: SDK object reader": (nothing, lambda _: shapes.reader(message)),
        "response: usage read": (nothing, lambda _: contract.read_usage(message.usage)),
        "response: usage attributes": (nothing, lambda _: contract.usage_attributes(usage, {})),
        "response: priced usage": (nothing, lambda _: responses.priced_usage(usage)),
        "price": (started_with_response, lambda a: a[0]._cost(a[1])),
        "response content": (nothing, lambda _: content.response_attributes(message, {})),
        "metric point": (
            ended_with_response,
            lambda a: a[0]._record_metrics(
                instruments, a[1], dict(a[1].attributes), cost=None, error_type=None, end_ns=time.perf_counter_ns()
            ),
        ),
        "call end (span end included)": (started_with_response, lambda a: a[0].stop(a[1])),
        "span end": (lambda: tracer.start_span("chat"), lambda span: span.end()),
    }

    if tuple(pieces) != _PIECE_NAMES:
        raise SystemExit(f"bench/pieces.py: _PIECE_NAMES {_PIECE_NAMES} do not name the pieces {tuple(pieces)}")

    def evict() -> None:
        overhead._call(client, "call")  # the bare SDK (switched above)

    return pieces, evict


def _warm(pieces: dict[str, Piece], names: Sequence[str]) -> None:
    for name in names:
        prepare, run = pieces[name]
        for _ in range(10):
            run(prepare())


def timed(names: Sequence[str], reps: int) -> dict[str, float]:
    """Median ns of each piece after a bare SDK call, less the empty piece's."""
    pieces, evict = _pieces()
    names = [EMPTY, *(n for n in names if n != EMPTY)]
    _warm(pieces, names)
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = {name: [] for name in names}
    for _ in range(3):  # the pieces in turn, three times: a drift of the host's speed spreads over all of them
        for name in names:
            prepare, run = pieces[name]
            for _ in range(reps // 3):
                evict()
                argument = prepare()
                start = clock()
                run(argument)
                samples[name].append(clock() - start)
    empty = statistics.median(samples[EMPTY])
    return {name: statistics.median(samples[name]) - empty for name in names if name != EMPTY}


def count_worker(library: str, names: Sequence[str], reps: int) -> None:
    """Under callgrind: collection on around each run of a piece only, one dump per piece."""
    import ctypes

    requests = ctypes.CDLL(library)
    pieces, evict = _pieces()
    names = [EMPTY, *(n for n in names if n != EMPTY)]
    gc.collect()
    gc.disable()
    _warm(pieces, names)
    requests.tt_zero()
    for index, name in enumerate(names):
        prepare, run = pieces[name]
        for _ in range(reps):
            evict()
            argument = prepare()
            requests.tt_toggle()
            run(argument)
            requests.tt_toggle()
        requests.tt_dump(f"piece-{index}".encode())


def counted(names: Sequence[str], reps: int) -> dict[str, float]:
    """Instructions per run of each piece, less the empty piece's (a valgrind run of this file)."""
    import instructions

    names = [EMPTY, *(n for n in names if n != EMPTY)]
    with tempfile.TemporaryDirectory(prefix="tokentrail-pieces-") as tmp:
        library = instructions._helper(Path(tmp))
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        command = [sys.executable, __file__, "--worker", str(library), "--reps", str(reps), *names]
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)  # bytecode caches
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}", *command],
            env=env,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        found = {
            int(reason.removeprefix("piece-")): total
            for reason, total in instructions.dumps(out).items()
            if reason.startswith("piece-")
        }
    if len(found) != len(names):
        raise SystemExit(f"callgrind wrote {len(found)} of {len(names)} counts")
    empty = found[0] / reps
    return {name: found[index] / reps - empty for index, name in enumerate(names) if name != EMPTY}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pieces", nargs="*", help="the pieces to run (default: all)")
    parser.add_argument("--count", action="store_true", help="instructions under callgrind instead of time")
    parser.add_argument("--reps", type=int, help="runs per piece (default: 450 timed, 20 counted)")
    parser.add_argument("--list", action="store_true", help="list the pieces and exit")
    parser.add_argument("--worker", metavar="HELPER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    reps = args.reps or (20 if args.count or args.worker else 450)
    if args.worker:
        count_worker(args.worker, args.pieces, reps)
        return 0
    sys.path.insert(0, str(REPO / "bench"))
    known = _PIECE_NAMES
    if args.list:
        print("\n".join(known))
        return 0
    unknown = [name for name in args.pieces if name not in known]
    if unknown:
        parser.error(f"unknown pieces {unknown}; --list shows them")
    if reps < 3:
        parser.error("--reps must be at least 3")
    names = args.pieces or [name for name in known if name != EMPTY]
    if args.count:
        for name, instructions in counted(names, reps).items():
            print(f"| {name} | {instructions:,.0f} instructions |")
    else:
        for name, ns in timed(names, reps).items():
            print(f"| {name} | {ns / 1000:.2f} µs |")
    return 0


_PIECE_NAMES = (
    EMPTY,
    "request",
    "request content",
    "app attributes",
    "call object",
    "span start",
    "response",
    "response: SDK object reader",
    "response: usage read",
    "response: usage attributes",
    "response: priced usage",
    "price",
    "response content",
    "metric point",
    "call end (span end included)",
    "span end",
)
"""The pieces `_pieces` defines, in the order of a call (listed without setting anything up)."""


if __name__ == "__main__":
    sys.exit(main())
