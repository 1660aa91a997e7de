"""tokentrail's own work counted in instructions (callgrind): a figure the host's load and speed do not move.

    .venv/bin/python bench/instructions.py [--calls 20] [--streams 5] [--write-docs docs/benchmarks.md]

CPU time on a shared, throttled machine moves by more than tokentrail's own work (docs/benchmarks.md). Valgrind's
callgrind counts the instructions a program executes instead: the same code on the same inputs gives the same
count whatever else the machine does. One process under `valgrind --tool=callgrind --collect-atstart=no` holds
the bare SDK, the reference span and tokentrail with content, cost and metrics on (switched as in
`bench/inprocess.py`'s same-moments subject); the SDK's answers are the stand-in's, recorded once and replayed in
memory (the stand-in is stopped before counting, so no server thread runs, and neither the span processor's
export nor the metric pump's drain is due while counting), every side is warmed up, the cyclic garbage collector
is off, and collection is switched on (callgrind's client requests, through a helper compiled
here) around each counted call only, one dump per side and mode. `PYTHONHASHSEED=0`, so runs repeat.

What it gives: instructions per call and per stream event for each side, tokentrail's own work (tokentrail
minus the reference span), and that as a share of what the reference span adds to the bare SDK; then, from a
second process of the same kind (`bench/inprocess.py`'s parts subject), what each part of tokentrail costs
(everything on against everything but that part: content, metrics, pricing, app context). Instructions are
not time (a cache miss costs more than an instruction), so the share is the comparable figure: at the reference
span's 57 µs of the 2026-11-22 run (the run the 25 µs target was set from) it reads as µs there.

Needs valgrind and a C compiler (`apt-get install valgrind`; `make bench` installs it). Not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIDES = ("bare", "reference", "tokentrail")
PART_SIDES = ("all", "content", "metrics", "pricing", "app-context")
SUBJECTS = {"same-moments": SIDES, "parts": PART_SIDES}
"""Subject (as in `bench/inprocess.py`) -> its sides, the first the baseline."""
MODES = ("call", "stream", "stream-long")
REFERENCE_SPAN_US = 57.4
"""The reference span's added CPU per call in the run the target was set from (2026-11-22, AMD EPYC)."""
REPEAT = "repeat"
"""Key of a side's counts: how far its two counts of a call (forwards and backwards) lay apart."""
DOCS_SECTION = "## tokentrail's own work in instructions"


_HELPER = """
#include <valgrind/callgrind.h>
void tt_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void tt_zero(void) { CALLGRIND_ZERO_STATS; }
void tt_dump(const char *reason) { CALLGRIND_DUMP_STATS_AT(reason); }
"""
"""Callgrind's client requests (macros of valgrind/callgrind.h, outside valgrind no-ops), for ctypes."""


def _helper(workdir: Path) -> Path:
    """The client-request helper, compiled with the system C compiler against valgrind's header."""
    source = workdir / "callgrind_requests.c"
    library = workdir / "libcallgrind_requests.so"
    source.write_text(_HELPER)
    try:
        subprocess.run(
            ["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(
            f"bench/instructions.py needs cc and valgrind's headers (valgrind/callgrind.h): {exc} {detail!r}"
        ) from exc
    return library


def _same_attribute_names(
    client: Any, sides: Sequence[str], switch: Callable[[str], None], tracer_provider: Any
) -> None:
    """Fail unless the reference span and tokentrail's span of the counted call carry the same attribute names:
    the reference is meant to hold the span contract's attributes for this call (what the SDK charges for them),
    so that 'own work' is tokentrail's own. Run in the uncounted first process only (it adds a span processor)."""
    import overhead
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

    ended: list[ReadableSpan] = []

    class Keep(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            ended.append(span)

    tracer_provider.add_span_processor(Keep())
    names = {}
    for side in ("reference", "tokentrail"):
        if side in sides:
            switch(side)
            overhead._call(client, "call")
            names[side] = set(ended[-1].attributes or ())
    if len(names) == 2 and names["reference"] != names["tokentrail"]:
        raise SystemExit(
            "the reference span's attributes differ from tokentrail's: only in the reference "
            f"{sorted(names['reference'] - names['tokentrail'])}, only in tokentrail "
            f"{sorted(names['tokentrail'] - names['reference'])} (bench/overhead.py reference_wrapper)"
        )


def quiet_sides(
    subject: str, modes: dict[str, tuple[int | None, int]]
) -> tuple[tuple[str, ...], Callable[[str], None], Any, Callable[[str], None], Any]:
    """`bench/inprocess.py`'s `subject` set up for counting: (its sides, the switch between them, an SDK client
    answered from the stand-in's recorded answers for `modes`, the function that sets the mode, the tracer
    provider). No background thread runs while a call is counted (collection covers every thread): the span
    processor exports only when told (its queue never fills here), the metric pump drains only at collection, and
    the stand-in is stopped once its answers are recorded."""
    sys.path.insert(0, str(REPO / "bench"))
    import anthropic
    import inprocess
    import overhead

    from tokentrail.dev.standin import StandinServer
    from tokentrail.instrumentation.recorder import metricpump

    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = str(10**9)
    metricpump.IDLE_DRAIN = 10.0**9
    tracer_provider, meter_provider = overhead._providers()
    sides, switch = inprocess._switch(subject, tracer_provider, meter_provider)
    with StandinServer() as server:
        http_client, set_mode = inprocess._replayed(server, modes)
        base_url = server.base_url
    client = anthropic.Anthropic(
        api_key="bench", base_url=base_url, max_retries=0, http_client=http_client, **overhead._native_off()
    )
    return sides, switch, client, set_mode, tracer_provider


def worker(library: str, subject: str, calls: int, streams: int, *, check: bool = False) -> int:
    """In one process under callgrind (collection off): set up the bare SDK, the reference span and tokentrail
    (switched like `bench/inprocess.py`'s same-moments subject), record the stand-in's answers and stop it, warm
    every side up, then count each side's calls of each mode with collection switched on around them only."""
    import ctypes
    import gc

    sys.path.insert(0, str(REPO / "bench"))
    import overhead

    requests = ctypes.CDLL(library)
    modes = {"call": (None, 1), "stream": (overhead.SHORT_EVENTS, 1), "stream-long": (overhead.LONG_EVENTS, 1)}
    sides, switch, client, set_mode, tracer_provider = quiet_sides(subject, modes)
    counts = _per_mode(calls, streams)

    if check:
        _same_attribute_names(client, sides, switch, tracer_provider)

    def run(mode: str, count: int, counted: bool) -> None:
        set_mode(mode)
        for _ in range(count):
            if counted:
                requests.tt_toggle()
            overhead._call(client, "call" if mode == "call" else "stream")
            if counted:
                requests.tt_toggle()

    # The collector is off from before the warm-up: a collection would land in whichever side happened to be
    # running, and a full one empties the interpreter's free lists, so that the side counted just after it read
    # about 75,000 instructions a call heavier than the same side counted again later.
    gc.collect()
    gc.disable()
    for side in sides:  # warm every path (and the price data) before anything is counted
        switch(side)
        for mode in MODES:
            run(mode, 10, counted=False)
    requests.tt_zero()
    for rank, side in enumerate((*sides, *reversed(sides))):  # each side twice: forwards, then backwards
        switch(side)
        for mode in MODES:
            run(mode, counts[mode], counted=True)
            requests.tt_dump(f"{side}#{1 + rank // len(sides)} {mode}".encode())
    return 0


def dumps(out: Path) -> dict[str, int]:
    """Dump reason (what the worker passed to `tt_dump`) -> instructions, from the dumps of one callgrind run."""
    found = {}
    for path in out.parent.glob(out.name + ".*"):
        text = path.read_text()
        reason = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
        if reason is not None and total is not None:
            found[reason.group(1)] = int(total.group(1))
    return found


def _per_mode(calls: int, streams: int) -> dict[str, int]:
    """Mode -> how many calls of it are counted per side."""
    return {"call": calls, "stream": streams, "stream-long": streams}


def count(subject: str, calls: int, streams: int, library: Path) -> dict[str, dict[str, float]]:
    """Instructions per call of each side and mode of `subject`, from one process under callgrind (`library`: the
    client-request helper, whose directory takes the dumps)."""
    out = library.parent / f"callgrind-{subject}.out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONHASHSEED"] = "0"
    command = [sys.executable, __file__, "--worker", str(library), "--subject", subject]
    command += ["--calls", str(calls), "--streams", str(streams)]
    # Once without valgrind (the requests are no-ops there): writes the bytecode caches, so the counted process
    # does not compile its imports.
    # It also checks that the reference span carries tokentrail's attribute names (`_same_attribute_names`).
    checked = subprocess.run([*command, "--check"], check=False, env=env, capture_output=True, text=True, timeout=900)
    if checked.returncode != 0:
        raise SystemExit(f"bench/instructions.py: {' '.join(checked.stderr.strip().splitlines()[-1:])}")
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}", *command],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    found = dumps(out)
    per = _per_mode(calls, streams)
    sides = SUBJECTS[subject]
    missing = [f"{side}#{n} {mode}" for side in sides for n in (1, 2) for mode in MODES]
    missing = [key for key in missing if key not in found]
    if missing:
        raise RuntimeError(f"callgrind wrote no count for {missing}")
    counts: dict[str, dict[str, float]] = {}
    for side in sides:
        first, second = ({mode: found[f"{side}#{n} {mode}"] / per[mode] for mode in MODES} for n in (1, 2))
        counts[side] = {mode: (first[mode] + second[mode]) / 2 for mode in MODES}
        counts[side][REPEAT] = abs(first["call"] - second["call"])
    return counts


def _per_event(counts: dict[str, dict[str, float]], side: str) -> float:
    import overhead

    return (counts[side]["stream-long"] - counts[side]["stream"]) / (overhead.LONG_EVENTS - overhead.SHORT_EVENTS)


def table(counts: dict[str, dict[str, float]]) -> list[str]:
    def event(side: str) -> float:
        return _per_event(counts, side)

    bare, reference, tokentrail = (counts[s]["call"] for s in SIDES)
    span = reference - bare
    own = tokentrail - reference
    own_event = event("tokentrail") - event("reference")
    at_reference = REFERENCE_SPAN_US / span
    rows = [
        "| measure | instructions per call | instructions per stream event |",
        "|---|---:|---:|",
        f"| the bare SDK (its tracing off) | {bare:,.0f} | {event('bare'):,.0f} |",
        f"| reference span, added to the bare SDK | {span:+,.0f} | {event('reference') - event('bare'):+,.0f} |",
        f"| tokentrail, added to the bare SDK | {tokentrail - bare:+,.0f} "
        f"| {event('tokentrail') - event('bare'):+,.0f} |",
        f"| **own work: tokentrail over the reference span** | **{own:+,.0f}** | **{own_event:+,.0f}** |",
        f"| own work per reference span | {own / span:.2f} | |",
        f"| own work at the 2026-11-22 reference span's {REFERENCE_SPAN_US} µs | {own * at_reference:.1f} µs "
        f"| {own_event * at_reference:.2f} µs |",
        f"| repeat check: the largest gap between a side's two counts of a call | "
        f"{max(counts[s][REPEAT] for s in SIDES):,.0f} | |",
    ]
    return rows


def parts_table(parts: dict[str, dict[str, float]], span: float) -> list[str]:
    """Each part's instructions: everything on minus everything but that part, per call and per event."""
    rows = [
        "| part (everything on against everything but it) | instructions per call | per reference span "
        "| instructions per stream event |",
        "|---|---:|---:|---:|",
    ]
    for part in PART_SIDES[1:]:
        call = parts["all"]["call"] - parts[part]["call"]
        event = _per_event(parts, "all") - _per_event(parts, part)
        rows.append(f"| {part} | {call:+,.0f} | {call / span:.2f} | {event:+,.0f} |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20, help="non-streaming calls counted per side")
    parser.add_argument("--streams", type=int, default=5, help="streams counted per side and stream mode")
    parser.add_argument(
        "--write-docs",
        type=Path,
        default=REPO / "docs" / "benchmarks.md",
        help=f"the Markdown file whose '{DOCS_SECTION}' section is replaced ('-' for none)",
    )
    parser.add_argument("--worker", metavar="HELPER", help=argparse.SUPPRESS)
    parser.add_argument("--subject", choices=tuple(SUBJECTS), default="same-moments", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.subject, args.calls, args.streams, check=args.check)
    sys.path.insert(0, str(REPO / "bench"))
    import overhead

    with tempfile.TemporaryDirectory(prefix="tokentrail-callgrind-") as tmp:
        library = _helper(Path(tmp))
        counts = count("same-moments", args.calls, args.streams, library)
        parts = count("parts", args.calls, args.streams, library)
    section = "\n".join(
        [
            DOCS_SECTION,
            "",
            overhead.measured(note="; valgrind's callgrind"),
            "",
            f"Command: `make bench`, here as `python bench/instructions.py --calls {args.calls} --streams "
            f"{args.streams}`.",
            "",
            "Instructions executed during the counted calls only (one process holds the three sides; callgrind",
            "switched on around each call, after set-up and warm-up; the SDK's answers replayed in memory, no",
            "server thread, the garbage collector off from before the warm-up, `PYTHONHASHSEED=0`): a count the",
            "host's load does not move. Each side is counted twice, in the order bare, reference, tokentrail and",
            "back, and the two counts averaged; the repeat check row shows how far they lay apart.",
            "Per event: a 410-delta stream over a 10-delta one. The share of the reference span is the comparable",
            "figure (instructions are not time); the last row reads it at the reference span's cost in the run the",
            "25 µs target was set from.",
            "",
            *table(counts),
            "",
            "What each part costs, from a second process of the same kind (tokentrail with everything on, and",
            "with each part off in turn; the share is of the reference span above):",
            "",
            *parts_table(parts, counts["reference"]["call"] - counts["bare"]["call"]),
        ]
    )
    overhead.publish(section, args.write_docs, DOCS_SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
