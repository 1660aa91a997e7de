"""Web UI page benchmark: server response time of each page over HTTP, against a large seeded store.

    python bench/ui_pages.py [--rows 1000000] [--requests 30] [--write-docs] [--database-url URL [--seed-only]]

What it does, on a private PostgreSQL cluster it starts itself (tokentrail.db.embedded, fsync off: the seed is
throwaway):

1. Seeds `--rows` llm_calls rows over the last 30 days with COPY: traces of one HTTP server span and three LLM
   spans (so about 1.33 spans per call), four models, users drawn from a Pareto distribution (the heaviest makes
   over half the calls) with an app id (`company_id`), sessions of one to six traces, 3% errors, half of the
   calls streamed, two prompt versions, content bodies stored once by SHA-256 (a pool of distinct prompts and
   answers, as the sink's dedupe leaves them). Plus one 200-span trace (a server span, workflow steps, tool spans
   and LLM calls) for the trace page. Then ANALYZE.
2. Starts the real UI server (`tokentrail ui`, a subprocess) on the seeded database and requests each page
   `--requests` times after `--warmup` untimed requests, one at a time over a kept-alive connection; reports p50 / p95
   of the time from request to the last byte.
`--database-url` seeds (once) and reuses a database of your own, e.g. to EXPLAIN a slow page's queries.

With --write-docs the figures replace the "Web UI pages" section of docs/benchmarks.md. Target: p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
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
import time
from collections.abc import Iterator
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg

from tokentrail.db import migrate
from tokentrail.db.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Web UI pages"
DAYS = 30
TARGET_P95_MS = 300.0
MODELS = (("claude-sonnet-4-5", 0.55, 3.0, 15.0), ("claude-haiku-4-5", 0.3, 1.0, 5.0),
          ("claude-opus-4-1", 0.05, 15.0, 75.0), ("claude-sonnet-4", 0.1, 3.0, 15.0))  # fmt: skip
ERRORS = ("overloaded_error", "rate_limit_error", "api_error")
WORKFLOWS = ("answer", "summarise", "classify", None)
BIG_TRACE = "b1" * 16

CALL_COLUMNS = (
    "trace_id, span_id, parent_span_id, start_time, duration_ms, time_to_first_chunk_ms, service_name, source, "
    "operation, provider, request_model, response_model, streaming, status, error_type, error_message, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, cost_source, finish_reasons, "
    "user_id, session_id, tags, prompt_name, prompt_version, workflow_name, call_type, system_sha256, "
    "input_sha256, output_sha256, tools_sha256, attributes"
)
SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, start_time, end_time, duration_ms, name, kind, status_code, status_message, "
    "service_name, scope_name, attributes, is_llm"
)


def _body(value: Any) -> tuple[bytes, str]:
    text = json.dumps(value)
    return sha256(text.encode()).digest(), text


def _content_pool(rng: random.Random, size: int) -> dict[str, list[tuple[bytes, str]]]:
    words = ("the", "of", "a", "to", "cache", "token", "prompt", "answer", "trace", "model", "user", "latency")

    def sentence(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    system = [_body([{"type": "text", "content": f"You are support bot v{v}. " + sentence(200)}]) for v in (1, 2)]
    tools = [_body([{"type": "function", "name": "lookup_order", "description": "Find an order",
                     "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}])]  # fmt: skip
    inputs = [_body([{"role": "user", "parts": [{"type": "text", "content": sentence(60)}]}]) for _ in range(size)]
    outputs = [
        _body([{"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": sentence(120)}]}])
        for _ in range(size)
    ]
    return {"system": system, "tools": tools, "input": inputs, "output": outputs}


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _call_row(rng: random.Random, pool: dict[str, list[tuple[bytes, str]]], trace: str, span: str, parent: str,  # noqa: PLR0917
              start: dt.datetime, user: str, session: str) -> tuple[Any, ...]:  # fmt: skip
    model, _, rate_in, rate_out = rng.choices(MODELS, weights=[m[1] for m in MODELS])[0]
    failed = rng.random() < 0.03
    streaming = rng.random() < 0.5
    uncached = rng.randint(50, 3000)
    cache_read = rng.choice((0, 0, 2048, 4096))
    cache_write = rng.choice((0, 0, 0, 1024))
    output = 0 if failed else rng.randint(10, 800)
    cost = (uncached * rate_in + cache_read * rate_in * 0.1 + cache_write * rate_in * 1.25 + output * rate_out) / 1e6
    duration = rng.lognormvariate(7.0, 0.6)
    version = rng.randrange(2)
    company = f"co_{int(user.removeprefix('user_')) % 50}"
    return (
        trace, span, parent, start, duration, duration * rng.uniform(0.05, 0.3) if streaming else None, "api",
        "tokentrail", "chat", "anthropic", model, model, streaming, "error" if failed else "ok",
        rng.choice(ERRORS) if failed else None, "Overloaded" if failed else None,
        uncached + cache_read + cache_write, output, cache_read, cache_write,
        None if failed else Decimal(f"{cost:.10f}"), None if failed else "genai-prices", None if failed else ["stop"],
        user, session, ["prod"], "support-answer", f"v{version + 1}", rng.choice(WORKFLOWS), "chat",
        pool["system"][version][0], rng.choice(pool["input"])[0], None if failed else rng.choice(pool["output"])[0],
        pool["tools"][0][0], json.dumps({"tokentrail.app.company_id": company}),
    )  # fmt: skip


def _span_row(trace: str, span: str, parent: str | None, start: dt.datetime, duration: float, name: str, kind: int,  # noqa: PLR0917
              status: int, scope: str, attributes: dict[str, Any], is_llm: bool) -> tuple[Any, ...]:  # fmt: skip
    end = start + dt.timedelta(milliseconds=duration)
    return (trace, span, parent, start, end, duration, name, kind, status, None, "api", scope, json.dumps(attributes),
            is_llm)  # fmt: skip


def seed(url: str, rows: int, seed_value: int = 11) -> dict[str, Any]:
    """COPY `rows` calls (plus the big trace) into the database at `url`; returns what the pages will ask for."""
    rng = random.Random(seed_value)
    pool = _content_pool(rng, 5000)
    now = dt.datetime.now(dt.timezone.utc)
    first = now - dt.timedelta(days=DAYS)
    with psycopg.connect(url) as conn:
        for day in range(DAYS + 2):
            conn.execute("SELECT tokentrail_ensure_partitions(%s::date)", ((first + dt.timedelta(days=day)).date(),))
        with conn.cursor() as cur, cur.copy("COPY content_blobs (sha256, body, bytes) FROM STDIN") as copy:
            for bodies in pool.values():
                for digest, text in bodies:
                    copy.write_row((digest, text, len(text.encode())))
        conn.commit()
        traces = (rows + 2) // 3
        step = DAYS * 86400 / traces
        session, session_left, user, span_count = "", 0, "user_0", 0
        # Two connections, so that calls and spans stream side by side (no list of a million spans in memory).
        with psycopg.connect(url) as spans_conn, conn.cursor() as cur, spans_conn.cursor() as spans_cur:
            with (
                cur.copy(f"COPY llm_calls ({CALL_COLUMNS}) FROM STDIN") as calls_copy,
                spans_cur.copy(f"COPY spans ({SPAN_COLUMNS}) FROM STDIN") as spans_copy,
            ):
                for t in range(traces):
                    if session_left <= 0:
                        user = f"user_{min(int(rng.paretovariate(1.2)) - 1, 1999)}"
                        session, session_left = _hex(rng, 16), rng.randint(1, 6)
                    session_left -= 1
                    trace, root = _hex(rng, 32), _hex(rng, 16)
                    start = first + dt.timedelta(seconds=t * step)
                    attrs = {"http.route": "/ask", "http.request.method": "POST"}
                    spans_copy.write_row(
                        _span_row(trace, root, None, start, 3000.0, "POST /ask", 2, 0, "fastapi", attrs, False)
                    )
                    span_count += 1
                    for c in range(min(3, rows - 3 * t)):
                        span = _hex(rng, 16)
                        at = start + dt.timedelta(milliseconds=5 + 900 * c)
                        row = _call_row(rng, pool, trace, span, root, at, user, session)
                        calls_copy.write_row(row)
                        params = {"gen_ai.operation.name": "chat", "gen_ai.request.model": row[10],
                                  "gen_ai.request.max_tokens": 1024}  # fmt: skip
                        spans_copy.write_row(_span_row(trace, span, root, at, row[4], f"chat {row[10]}", 3,
                                             2 if row[13] == "error" else 0, "tokentrail", params, True))  # fmt: skip
                        span_count += 1
            spans_conn.commit()
        big_span = _big_trace(conn, rng, pool, now - dt.timedelta(hours=2))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        top = conn.execute(
            "SELECT user_id, session_id FROM llm_calls WHERE start_time > now() - interval '1 day' "
            "AND session_id IS NOT NULL ORDER BY start_time DESC LIMIT 1"
        ).fetchone()
        users = _users(conn)
        deep = _deep_cursors(conn)
    assert top is not None
    return {"session": top[1], "trace": BIG_TRACE, "span": big_span, "spans": span_count + 200, **users, **deep}


def _big_trace(conn: psycopg.Connection[Any], rng: random.Random, pool: dict[str, list[tuple[bytes, str]]],
               start: dt.datetime) -> str:  # fmt: skip
    """One trace of 200 spans: a server span, 10 workflow steps, each with 15 LLM calls and 4 tool spans."""
    root = "0" * 15 + "1"
    spans = [_span_row(BIG_TRACE, root, None, start, 60_000.0, "POST /agent", 2, 0, "fastapi", {}, False)]
    calls = []
    for w in range(10):
        step, at = f"{w + 2:016x}", start + dt.timedelta(seconds=6 * w)
        spans.append(_span_row(BIG_TRACE, step, root, at, 5800.0, f"invoke_workflow step{w}", 1, 0, "tokentrail",
                               {"gen_ai.operation.name": "invoke_workflow"}, False))  # fmt: skip
        for c in range(19):
            span, t = f"{(w + 1) * 100 + c:016x}", at + dt.timedelta(milliseconds=300 * c)
            if c % 5 == 4:
                spans.append(_span_row(BIG_TRACE, span, step, t, 100.0, "execute_tool lookup", 1, 0, "tokentrail",
                                       {"gen_ai.operation.name": "execute_tool"}, False))  # fmt: skip
                continue
            row = _call_row(rng, pool, BIG_TRACE, span, step, t, "user_1", "big-session")
            calls.append(row)
            spans.append(_span_row(BIG_TRACE, span, step, t, row[4], f"chat {row[10]}", 3, 0, "tokentrail",
                                   {"gen_ai.request.max_tokens": 1024}, True))  # fmt: skip
    with conn.cursor() as cur:
        with cur.copy(f"COPY llm_calls ({CALL_COLUMNS}) FROM STDIN") as copy:
            for row in calls:
                copy.write_row(row)
        with cur.copy(f"COPY spans ({SPAN_COLUMNS}) FROM STDIN") as copy:
            for row in spans[:200]:
                copy.write_row(row)
    return str(calls[0][1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def ui_server(url: str) -> Iterator[str]:
    """`tokentrail ui` on a fresh port against `url`, ready; terminated on exit."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    command = [sys.executable, "-m", "tokentrail.cli", "ui", "--port", str(port), "--database-url", url]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/healthz").status_code < 500:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the UI server did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


def pages(target: dict[str, Any]) -> list[tuple[str, str]]:
    trace, span, user, session = target["trace"], target["span"], target["user"], target["session"]
    return [
        ("overview, 24h", "/?range=24h"),
        ("overview, 30d", "/?range=30d"),
        ("overview, 30d by user", "/?range=30d&by=user"),
        ("calls, 7d, newest first", "/calls?since=7d"),
        (
            "calls, 30d, model + status filter, by cost",
            "/calls?since=30d&model=claude-opus-4-1&status=error&sort=-cost",
        ),
        ("calls, 30d, app id filter, page 5", "/calls?since=30d&attr=company_id:co_7&page=5"),
        ("calls, 30d, newest first", "/calls?since=30d"),
        ("calls, 30d, by latency", "/calls?since=30d&sort=-latency"),
        ("calls, 30d, by tokens ascending", "/calls?since=30d&sort=tokens"),
        ("calls, 30d, errors by cost", "/calls?since=30d&status=error&sort=-cost"),
        ("calls, 30d, cheapest model, most expensive first", "/calls?since=30d&model=claude-haiku-4-5&sort=-cost"),
        ("calls, 30d, text search, a rare phrase", "/calls?since=30d&search=cache+cache+cache+cache"),
        ("calls, 30d, text search, found nowhere", "/calls?since=30d&search=refund"),
        ("calls, 30d, a call type no call has", "/calls?since=30d&call_type=rag_query"),
        ("calls, 7d, page 200", "/calls?since=7d&page=200"),
        ("calls, 7d, page 200 by cursor", f"/calls?since=7d&after={target['deep_time']}&page=200"),
        (
            "calls, 30d, by latency, page 200 by cursor",
            f"/calls?since=30d&sort=-latency&after={target['deep_latency']}&page=200",
        ),
        ("failures, 7d", "/failures?since=7d"),
        ("prompt versions, 30d", "/prompts?name=support-answer&range=30d"),
        ("trace of 200 spans", f"/traces/{trace}"),
        ("trace of 200 spans, an LLM span selected", f"/traces/{trace}?span={span}"),
        ("sessions, 24h", "/sessions?range=24h"),
        ("sessions, 30d", "/sessions?range=30d"),
        ("one session", f"/sessions/{session}"),
        ("users, 24h", "/users?range=24h"),
        ("users, 30d", "/users?range=30d"),
        (f"one user ({target['user_calls']:,} calls), 30d", f"/users/{user}?range=30d"),
        (f"the heaviest user ({target['heavy_calls']:,} calls), 30d", f"/users/{target['heavy_user']}?range=30d"),
    ]


def time_pages(
    base: str, targets: list[tuple[str, str]], requests: int, warmup: int = 2, budget_s: float = 60.0
) -> list[dict[str, Any]]:
    """p50 / p95 per page; a page stops sampling once `budget_s` has passed (after at least one timed request)."""
    results = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for label, path in targets:
            statuses: set[int] = set()
            page_start = time.perf_counter()
            for _ in range(warmup):
                client.get(path)
            samples: list[float] = []
            while len(samples) < requests and (not samples or time.perf_counter() - page_start < budget_s):
                began = time.perf_counter()
                try:
                    statuses.add(client.get(path).status_code)
                except httpx.TransportError:
                    statuses.add(599)  # the connection failed: reported, not timed as a success
                samples.append((time.perf_counter() - began) * 1000)
            samples.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
            results.append({
                "page": label, "path": path, "p50": statistics.median(samples), "p95": p95, "statuses": statuses,
                "n": len(samples),
            })  # fmt: skip
            print(f"  {label}: p50 {results[-1]['p50']:.0f} ms, p95 {p95:.0f} ms {sorted(statuses)}", flush=True)
    return results


def _cpu() -> str:
    with contextlib.suppress(OSError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line), "")
        return f"{os.cpu_count()} cores, {model or platform.machine()}"
    return f"{os.cpu_count()} cores, {platform.machine()}"


def render(rows: int, spans: int, requests: int, warmup: int, results: list[dict[str, Any]], seed_s: float | None,  # noqa: PLR0917
           budget: float) -> str:  # fmt: skip
    lines = [
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} on {_cpu()}, Python {platform.python_version()}, PostgreSQL "
        "(embedded, fsync off), the UI server (`tokentrail ui`, one uvicorn worker) and the client on the same "
        "machine. Command: "
        f"`python bench/ui_pages.py --rows {rows} --requests {requests} --warmup {warmup} --budget {budget:.0f} "
        "--write-docs`. "
        f"Store: {rows:,} calls and "
        f"{spans:,} spans over {DAYS} days (traces of a server span and three calls, sessions of 1-6 traces, users "
        "Pareto-distributed: the heaviest makes over half the calls; "
        + (f"seeded with COPY and analysed in {seed_s:.0f} s" if seed_s is not None else "a database seeded before")
        + f"). Each page: {requests} requests "
        f"one at a time after {warmup} warm-up(s), fewer where a page had used up {budget:.0f} s; "
        f"request to last byte. Target: p95 < {TARGET_P95_MS:.0f} ms.",
        "",
        "| page | URL | p50 | p95 | requests | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        mark = "" if r["p95"] < TARGET_P95_MS else " (over target)"
        statuses = ", ".join(str(s) for s in sorted(r["statuses"]))
        lines.append(
            f"| {r['page']} | `{r['path'][:60]}` | {r['p50']:.0f} ms | {r['p95']:.0f} ms{mark} | {r['n']} "
            f"| {statuses} |"
        )
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip() + "\n\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.write_text(text.rstrip() + "\n")


def _users(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The heaviest user and a more typical one (the sixth heaviest), with their call counts."""
    top = conn.execute("SELECT user_id, count(*) FROM llm_calls GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 6").fetchall()
    return {"heavy_user": top[0][0], "heavy_calls": top[0][1], "user": top[-1][0], "user_calls": top[-1][1]}


def _deep_cursors(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """Cursors of the last row of page 199 (50 a page): newest first over 7 days, slowest first over 30 days."""
    from tokentrail.reports import queries
    from tokentrail.reports.paging import cursor_at

    now = dt.datetime.now(dt.timezone.utc)
    found = {}
    for name, days, sort in (("deep_time", 7, "-time"), ("deep_latency", 30, "-latency")):
        where = queries.CallFilter(since=now - dt.timedelta(days=days), limit=1, offset=199 * 50 - 1)
        (row,) = queries.calls(conn, where, sort)
        found[name] = quote(cursor_at(sort, row).text)
    return found


def _existing_target(url: str) -> dict[str, Any] | None:
    """What the pages will ask for in an already seeded database, or None when it holds no calls."""
    with psycopg.connect(url) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM llm_calls), (SELECT count(*) FROM spans)").fetchone()
        if counts is None or counts[0] == 0:
            return None
        top = conn.execute(
            "SELECT user_id, session_id FROM llm_calls WHERE start_time > now() - interval '1 day' "
            "AND session_id IS NOT NULL ORDER BY start_time DESC LIMIT 1"
        ).fetchone()
        span = conn.execute(
            "SELECT span_id FROM llm_calls WHERE trace_id = %s ORDER BY start_time LIMIT 1", (BIG_TRACE,)
        ).fetchone()
        users = _users(conn)
        deep = _deep_cursors(conn)
    assert top is not None
    assert span is not None
    return {"session": top[1], "trace": BIG_TRACE, "span": span[0], "spans": counts[1], **users, **deep}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="llm_calls rows to seed")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per page first")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per page, warm-up included")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--database-url", help="use this database (seeded first if it holds no calls) and keep it")
    parser.add_argument("--seed-only", action="store_true", help="stop after seeding (with --database-url)")
    parser.add_argument("--only", action="append", default=[], help="time only the pages whose label contains this")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="tokentrail-uibench-"))
    root.chmod(0o755)
    cluster = None if args.database_url else EmbeddedPostgres(root, durable=False)
    try:
        url = cluster.start() if cluster is not None else args.database_url
        migrate.upgrade(url)
        began = time.monotonic()
        target = _existing_target(url)
        reused = target is not None
        if target is None:
            print(f"seeding {args.rows:,} calls ...", flush=True)
            target = seed(url, args.rows)
        seed_s = time.monotonic() - began
        print(f"ready in {seed_s:.0f} s: {target}", flush=True)
        if args.seed_only:
            return 0
        with ui_server(url) as base:
            chosen = [p for p in pages(target) if not args.only or any(o in p[0] for o in args.only)]
            results = time_pages(base, chosen, args.requests, args.warmup, args.budget)
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    text = render(
        args.rows, target["spans"], args.requests, args.warmup, results, None if reused else seed_s, args.budget
    )
    print(text)
    if args.write_docs:
        write_docs(text)
    bad = [r for r in results if any(s >= 500 for s in r["statuses"])]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
