"""Sink ingest benchmark: OTLP/HTTP request -> committed rows, against a raw COPY of the same rows.

    python bench/sink_ingest.py [--requests 200] [--spans 100] [--concurrency 4] [--write-docs]

What it does, on a private PostgreSQL cluster it starts itself (tokentrail.db.embedded):

1. Builds a realistic workload: traces of one server span and three LLM client spans (content capture on: the
   same system prompt (two prompt versions) and tool definitions every call, a few-shot template plus a varying
   user turn, a varying answer), encoded as OTLP protobuf and gzip-compressed exactly as the collector sends it.
2. Sink: starts `python -m tokentrail.sink` as a subprocess on a fresh database and posts every request from
   `--concurrency` client threads; a request counts when its 200 arrived (= after commit). Reports spans/s,
   acknowledgement latency p50/p99, and the sink's RSS before/after (and peak).
3. Raw COPY: normalises the same spans in-process (untimed) and COPYs the resulting rows, batch by batch with one
   commit per batch, straight into the same partitioned tables of another fresh database: the rate Postgres can
   take these rows at without HTTP, decoding, staging or conflict handling.
4. Content: bytes of content attributes sent vs bytes stored in content_blobs (SHA-256 dedupe).
5. Acknowledgement latency of small answers on one kept-alive connection (a 200 without and with
   `partial_success`, a 400, a 401): each should take about a round trip, not a delayed ACK (~40 ms, Nagle).
   `--acks-only` runs just this part, against a sink on a fresh database.

With --write-docs the figures replace the "Sink ingest" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from psycopg import sql

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.db import migrate
from tokentrail.db.embedded import EmbeddedPostgres
from tokentrail.db.rows import Batch, BlobRow, LlmCallRow, SpanRow
from tokentrail.sink.normalise import Normaliser
from tokentrail.sink.spans import extract_spans

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Sink ingest"
TOKEN = "bench-token"
PROTOBUF_GZIP = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "gzip",
    "Authorization": f"Bearer {TOKEN}",
}

SYSTEM_PROMPTS = [
    "You are ACME's support assistant (prompt v1). " + "Follow the refund, shipping and privacy policy. " * 120,
    "You are ACME's support assistant (prompt v2). "
    + "Be brief; follow the refund, shipping and privacy policy. " * 110,
]
TOOLS = json.dumps(
    [
        {
            "type": "function",
            "name": f"tool_{i}",
            "description": "Looks something up in the order system. " * 4,
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        }
        for i in range(6)
    ]
)
TEMPLATE = [
    {"role": "user", "parts": [{"type": "text", "content": "Example question " + "about an order " * 30}]},
    {"role": "assistant", "parts": [{"type": "text", "content": "Example answer " + "with the policy " * 30}]},
]
QUESTIONS = [f"Where is my order #{n}? It was due on day {n % 28 + 1}." for n in range(500)]


def _user_turn(rng: random.Random) -> str:
    """A user turn that is (almost always) unique: a common question with this user's own ticket and details."""
    return f"{rng.choice(QUESTIONS)} Ticket {rng.getrandbits(40):x}, account {rng.getrandbits(32):x}."


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def build_requests(requests: int, spans_per_request: int, seed: int = 7) -> tuple[list[ExportTraceServiceRequest], int]:
    """The workload; returns the requests and the bytes of content attributes they carry."""
    rng = random.Random(seed)
    start = int(time.time() * 1e9) - 3600 * 10**9
    content_bytes = 0
    result = []
    for r in range(requests):
        spans: list[Span] = []
        while len(spans) < spans_per_request:
            trace_id, root_id = rng.randbytes(16), rng.randbytes(8)
            t0 = start + (r * spans_per_request + len(spans)) * 1_000_000
            root = Span(trace_id=trace_id, span_id=root_id, name="POST /ask", kind=Span.SPAN_KIND_SERVER)
            root.start_time_unix_nano, root.end_time_unix_nano = t0, t0 + 2_000_000_000
            root.attributes.extend([_kv("http.request.method", "POST"), _kv("http.route", "/ask")])
            spans.append(root)
            for call in range(3):
                version = rng.randrange(2)
                content = {
                    semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(
                        [{"type": "text", "content": SYSTEM_PROMPTS[version]}]
                    ),
                    semconv.GEN_AI_TOOL_DEFINITIONS: TOOLS,
                    semconv.GEN_AI_INPUT_MESSAGES: json.dumps(
                        [*TEMPLATE, {"role": "user", "parts": [{"type": "text", "content": _user_turn(rng)}]}]
                    ),
                    semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": " ".join(rng.choices(QUESTIONS, k=4))}],
                                "finish_reason": "stop",
                            }
                        ]
                    ),
                }
                content_bytes += sum(len(v.encode()) for v in content.values())
                attributes = {
                    semconv.GEN_AI_OPERATION_NAME: "chat",
                    semconv.GEN_AI_PROVIDER_NAME: "anthropic",
                    semconv.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
                    semconv.GEN_AI_RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
                    semconv.GEN_AI_RESPONSE_ID: f"msg_{rng.getrandbits(64):x}",
                    semconv.GEN_AI_USAGE_INPUT_TOKENS: rng.randint(2000, 9000),
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: rng.randint(50, 800),
                    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1800,
                    semconv.USER_ID: f"user-{rng.randrange(100)}",
                    semconv.PROMPT_NAME: "support",
                    semconv.PROMPT_VERSION: f"v{version + 1}",
                    **content,
                }
                span = Span(
                    trace_id=trace_id,
                    span_id=rng.randbytes(8),
                    parent_span_id=root_id,
                    name="chat claude-sonnet-4-5",
                    kind=Span.SPAN_KIND_CLIENT,
                )
                span.start_time_unix_nano = t0 + call * 500_000_000
                span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(300, 1500) * 1_000_000
                span.attributes.extend([_kv(k, v) for k, v in attributes.items()])
                spans.append(span)
        spans = spans[:spans_per_request]
        resource_spans = ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])
        resource_spans.resource.attributes.append(_kv("service.name", "shop"))
        resource_spans.scope_spans[0].scope.name = anthropic_contract.INSTRUMENTATION_SCOPE
        result.append(ExportTraceServiceRequest(resource_spans=[resource_spans]))
    return result, content_bytes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _fresh_database(cluster: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(cluster.url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = cluster.url_for(name)
    migrate.upgrade(url)
    return url


@contextlib.contextmanager
def _sink(url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m tokentrail.sink` (with TOKEN) on a fresh port, ready; terminated on exit."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    env["TOKENTRAIL_SINK_TOKEN"] = TOKEN
    process = subprocess.Popen(
        [sys.executable, "-m", "tokentrail.sink", "--port", str(port), "--database-url", url, "--log-level", "WARNING"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the sink did not start")
            time.sleep(0.05)
        yield process, base
    finally:
        process.terminate()
        process.wait(timeout=60)


def run_acks(base: str, valid: bytes, repeat: int = 20) -> dict[str, float]:
    """Median milliseconds per answer, `repeat` requests of each kind over one kept-alive connection."""
    partial = ExportTraceServiceRequest()
    partial.CopyFrom(ExportTraceServiceRequest.FromString(gzip.decompress(valid)))
    partial.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01"  # one span rejected: partial_success
    kinds = {
        "200": (valid, PROTOBUF_GZIP, 200),
        "200 partial_success": (gzip.compress(partial.SerializeToString()), PROTOBUF_GZIP, 200),
        "400": (b"\xff\xff not protobuf", {**PROTOBUF_GZIP, "Content-Encoding": "identity"}, 400),
        "401": (valid, {**PROTOBUF_GZIP, "Authorization": "Bearer wrong"}, 401),
    }
    result = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/v1/traces", content=valid, headers=PROTOBUF_GZIP)  # connect; the spans are stored already
        for name, (content, headers, status) in kinds.items():
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                response = client.post("/v1/traces", content=content, headers=headers)
                times.append(time.perf_counter() - t)
                if response.status_code != status:
                    raise RuntimeError(f"{name}: expected {status}, got {response.status_code}")
            result[name] = statistics.median(times) * 1000
    return result


def run_sink(url: str, bodies: list[bytes], concurrency: int, small: bytes) -> dict[str, Any]:
    with _sink(url) as (process, base):
        # warm up (pricing data, connections) with one request outside the measurement
        httpx.post(
            base + "/v1/traces",
            content=bodies[0],
            headers=PROTOBUF_GZIP,
            timeout=60,
        )
        rss_before, _ = _rss_kib(process.pid)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        queue = list(range(1, len(bodies)))

        def worker() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while True:
                    with lock:
                        if not queue:
                            return
                        index = queue.pop()
                    while True:
                        t = time.perf_counter()
                        response = client.post(
                            "/v1/traces",
                            content=bodies[index],
                            headers=PROTOBUF_GZIP,
                        )
                        elapsed = time.perf_counter() - t
                        with lock:
                            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                        if response.status_code == 200:
                            with lock:
                                latencies.append(elapsed)
                            break
                        time.sleep(0.05)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        rss_after, rss_peak = _rss_kib(process.pid)
        acks = run_acks(base, small)
    latencies.sort()
    return {
        "wall": wall,
        "requests": len(latencies),
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "rss_before_mib": rss_before / 1024,
        "rss_after_mib": rss_after / 1024,
        "rss_peak_mib": rss_peak / 1024,
        "statuses": statuses,
        "acks": acks,
    }


def _copy_statement(table: str) -> sql.Composed:
    fields = {"spans": SpanRow._fields, "llm_calls": LlmCallRow._fields, "content_blobs": BlobRow._fields}[table]
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, fields))
    )


def run_raw_copy(url: str, batches: list[Batch]) -> float:
    """COPY the rows straight into the tables, one transaction per batch; returns seconds."""
    days = sorted({day for batch in batches for day in batch.days})
    seen: set[bytes] = set()
    with psycopg.connect(url, autocommit=True) as conn:
        for day in days:
            conn.execute("SELECT tokentrail_ensure_partitions(%s)", (day,))
        started = time.perf_counter()
        for batch in batches:
            with conn.transaction(), conn.cursor() as cur:
                blobs = [blob for digest, blob in batch.blobs.items() if digest not in seen]
                seen.update(batch.blobs)
                for table, rows in (("content_blobs", blobs), ("spans", batch.spans), ("llm_calls", batch.llm_calls)):
                    if not rows:
                        continue
                    with cur.copy(_copy_statement(table)) as copy:
                        for row in rows:
                            copy.write_row(row)
        return time.perf_counter() - started


def _table_bytes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        out = {}
        for table in ("spans", "llm_calls", "content_blobs"):
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " WHERE c.relname = %s OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
                (table, table),
            ).fetchone()
            out[table] = int(row[0]) if row else 0
        blob = conn.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM content_blobs").fetchone()
        out["blob_count"], out["blob_bytes"] = (int(blob[0]), int(blob[1])) if blob else (0, 0)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--spans", type=int, default=100, help="spans per request")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--acks-only", action="store_true", help="only measure the latency of small answers")
    args = parser.parse_args(argv)
    if args.acks_only:
        return acks_only()

    print(f"building {args.requests} requests x {args.spans} spans ...", flush=True)
    requests, content_bytes = build_requests(args.requests, args.spans)
    raw_bodies = [r.SerializeToString() for r in requests]
    bodies = [gzip.compress(b, compresslevel=6) for b in raw_bodies]
    total_spans = args.requests * args.spans

    normaliser = Normaliser(None)
    batches = [normaliser.batch(extract_spans(r).spans) for r in requests[1:]]
    measured_spans = (args.requests - 1) * args.spans
    sink_runs: list[dict[str, Any]] = []
    copy_rates: list[float] = []
    root = Path(tempfile.mkdtemp(prefix="tokentrail-bench-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(root)  # durable: fsync on, as in production
    try:
        cluster.start()
        # Rounds alternate the two paths so that noise from other work on the machine hits both alike.
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}: raw COPY ...", flush=True)
            copy_rates.append(measured_spans / run_raw_copy(_fresh_database(cluster, "bench_copy"), batches))
            print(f"round {round_no + 1}: sink ...", flush=True)
            sink_url = _fresh_database(cluster, "bench_sink")
            run = run_sink(sink_url, bodies, args.concurrency, _small_body(requests[0]))
            run["rate"] = measured_spans / run["wall"]
            sink_runs.append(run)
            print(f"  raw COPY {copy_rates[-1]:,.0f} spans/s, sink {run['rate']:,.0f} spans/s", flush=True)
        sizes = _table_bytes(sink_url)
        with psycopg.connect(sink_url) as conn:
            row = conn.execute("SELECT count(*) FROM spans").fetchone()
            stored = int(row[0]) if row else 0
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)

    sink = sorted(sink_runs, key=lambda run: run["rate"])[len(sink_runs) // 2]  # the median run
    sink_rate = sink["rate"]
    copy_rate = statistics.median(copy_rates)
    result = {
        "date": dt.date.today().isoformat(),
        "cpu": _cpu(),
        "workload": (
            f"{args.requests} requests x {args.spans} spans (gzip protobuf), {args.concurrency} concurrent clients,"
            f" median of {args.rounds} alternating rounds"
        ),
        "body_mib": sum(map(len, raw_bodies)) / 2**20,
        "gzip_mib": sum(map(len, bodies)) / 2**20,
        "sink_rate": sink_rate,
        "copy_rate": copy_rate,
        "ratio": sink_rate / copy_rate,
        "rounds": ", ".join(f"{c:,.0f} / {run['rate']:,.0f}" for c, run in zip(copy_rates, sink_runs, strict=True)),
        "content_sent_mib": content_bytes / 2**20,
        "content_stored_mib": sizes["blob_bytes"] / 2**20,
        "blob_count": sizes["blob_count"],
        "stored": stored,
        "total_spans": total_spans,
        **sink,
        **{f"{k}_table_mib": v / 2**20 for k, v in sizes.items() if not k.startswith("blob_")},
    }
    text = render(result)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0 if stored == total_spans else 1


def _small_body(request: ExportTraceServiceRequest | None = None) -> bytes:
    """The first trace (4 spans) of `request` (the warm-up request, already stored: answering it adds no rows) or
    of a new one, gzip-compressed: the body of the acknowledgement-latency part."""
    source = request or build_requests(1, 4, seed=11)[0][0]
    small = ExportTraceServiceRequest()
    small.CopyFrom(source)
    del small.resource_spans[0].scope_spans[0].spans[4:]
    return gzip.compress(small.SerializeToString())


def _render_acks(acks: dict[str, float]) -> str:
    return " / ".join(f"{name} {ms:.1f}" for name, ms in acks.items()) + " ms"


def acks_only() -> int:
    root = Path(tempfile.mkdtemp(prefix="tokentrail-bench-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(root)
    try:
        cluster.start()
        with _sink(_fresh_database(cluster, "bench_acks")) as (_, base):
            acks = run_acks(base, _small_body())
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    print("acknowledgement latency on one kept-alive connection (median of 20):", _render_acks(acks))
    return 0


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    except OSError:
        model = ""
    return f"{os.cpu_count()} cores, {model or platform.processor() or platform.machine()}"


def render(r: dict[str, Any]) -> str:
    saving = 1 - r["content_stored_mib"] / r["content_sent_mib"] if r["content_sent_mib"] else 0.0
    ms = {key: r[key] * 1000 for key in ("p50", "p99", "max")}
    rows = [
        ("sink: OTLP/HTTP request -> committed rows", f"{r['sink_rate']:,.0f} spans/s"),
        ("raw COPY of the same rows into the same tables", f"{r['copy_rate']:,.0f} spans/s"),
        ("sink / raw COPY (ratio of the medians)", f"{r['ratio']:.0%} (target >= 50%)"),
        ("each round: raw COPY / sink", r["rounds"]),
        (
            "acknowledgement latency p50 / p99 / max",
            f"{ms['p50']:.0f} / {ms['p99']:.0f} / {ms['max']:.0f} ms (target p99 < 1 s)",
        ),
        (
            "sink RSS before / after / peak",
            f"{r['rss_before_mib']:.0f} / {r['rss_after_mib']:.0f} / {r['rss_peak_mib']:.0f} MiB",
        ),
        ("small answers on a kept-alive connection (median of 20)", _render_acks(r["acks"])),
        ("spans stored / sent (last round)", f"{r['stored']:,} / {r['total_spans']:,}"),
        ("content attribute bytes sent", f"{r['content_sent_mib']:.1f} MiB"),
        (
            "content stored in content_blobs (SHA-256, once)",
            f"{r['content_stored_mib']:.1f} MiB in {r['blob_count']:,} blobs ({saving:.0%} saved)",
        ),
        (
            "on-disk size spans / llm_calls / content_blobs",
            f"{r['spans_table_mib']:.1f} / {r['llm_calls_table_mib']:.1f} / {r['content_blobs_table_mib']:.1f} MiB",
        ),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    return f"""{SECTION}

Measured {r["date"]} on {r["cpu"]}, Python {platform.python_version()}, PostgreSQL (embedded, fsync on); the sink
(a `python -m tokentrail.sink` subprocess), Postgres and the load generator share the machine.
Command: `python bench/sink_ingest.py --write-docs`.
Workload: {r["workload"]};
{r["body_mib"]:.1f} MiB of protobuf ({r["gzip_mib"]:.1f} MiB gzip); traces of one server span + three LLM spans
with content capture on (system prompt in two versions, tool definitions, few-shot template + a user turn that is
unique per call, a unique answer). Other work on the shared machine makes single rounds noisy (see each round).

| measure | value |
|---|---|
{table}

Raw COPY is one connection COPYing the already-normalised rows, one transaction per request-sized batch. It
excludes what the sink must do and COPY does not: HTTP, gzip, protobuf decoding, normalisation and hashing (in
Python), and idempotency (a savepoint per batch; staging and `ON CONFLICT DO NOTHING` for content blobs and for
retried batches). Statuses seen by the clients (median round): {r["statuses"]}.
"""


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(text.rstrip() + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
