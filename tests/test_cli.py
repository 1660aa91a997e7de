"""The `tokentrail` command line: arguments, exit codes, output formats, against a real PostgreSQL database."""

from __future__ import annotations

import csv
import io
import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert, user_messages
from tokentrail import cli, reports
from tokentrail.db import migrate

UTC = timezone.utc
T0 = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
RANGE = ["--since", "2026-11-18", "--until", "2026-11-19"]


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://nobody:secret@127.0.0.1:{port}/tokentrail"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sample() -> list[Call]:
    return [
        Call(T0, duration_ms=1200.0, user="alice", tags=["rag"], cost=Decimal("0.0125"), ttfc_ms=300.0,
             input_body=user_messages("What is our refund policy for annual plans?")),
        Call(T0 + timedelta(minutes=1), duration_ms=400.0, model="claude-haiku-4-5", user="bob",
             cost=Decimal("0.0005")),
        Call(T0 + timedelta(minutes=2), duration_ms=3100.0, user="alice", status="error",
             error_type="rate_limit_error", error_message="Number of requests has exceeded your rate limit",
             input_tokens=None, output_tokens=None, cache_read=None, cost=None),
    ]  # fmt: skip


# --- arguments --------------------------------------------------------------------------------------------


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("sink", "standin", "demo", "db", "stats", "calls", "trace", "compare", "prune"):
        assert command in out


def test_groupings_match_the_query_layer() -> None:
    assert cli.GROUPINGS == reports.GROUPINGS


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["db"],
        ["nonsense"],
        ["stats", "--since", "banana"],
        ["stats", "--by", "nonsense"],
        ["stats", "--since", "2026-11-02", "--until", "2026-11-01"],
        ["stats", "--format", "xml"],
        ["calls", "--limit", "0"],
        ["calls", "--min-latency", "fast"],
        ["calls", "--min-cost", "-1"],
        ["calls", "--status", "maybe"],
        ["trace", "not-a-trace-id"],
        ["trace", "0" * 32],
        ["compare", "--since", "30d"],
        ["prune", "--older-than", "0d"],
        ["prune", "--older-than", "12h"],
        ["prune"],
    ],
)
def test_bad_arguments_exit_2_with_an_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "error:" in err.splitlines()[-1]


@pytest.mark.parametrize(
    "argv",
    [
        ["stats"],
        ["calls"],
        ["trace", "4bf92f3577b34da6a3ce929d0e0e4736"],
        ["compare", "--prompt", "support"],
        ["prune", "--older-than", "90d", "--dry-run"],
        ["db", "upgrade"],
    ],
)
def test_unreachable_database_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], closed_port_url: str, argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv, "--database-url", closed_port_url)
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("tokentrail: cannot connect to the database at 127.0.0.1:")
    assert "secret" not in err


def test_missing_database_url_says_how_to_set_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("TOKENTRAIL_DATABASE_URL", raising=False)
    monkeypatch.setenv("TOKENTRAIL_DATA_DIR", str(tmp_path))  # no embedded cluster there
    code, out, err = run(capsys, "stats")
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "TOKENTRAIL_DATABASE_URL" in err
    assert "--database-url" in err


def test_database_url_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    conn: psycopg.Connection[Any],
    database_url: str,
) -> None:
    insert(conn, sample())
    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    code, out, _ = run(capsys, "stats", *RANGE, "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["calls"] == 3


def test_a_bad_sink_variable_does_not_stop_a_report(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    conn: psycopg.Connection[Any],
    database_url: str,
) -> None:
    insert(conn, sample())
    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    monkeypatch.setenv("TOKENTRAIL_SINK_PORT", "abc")  # meant for the sink, and wrong: not the report's business
    code, out, _ = run(capsys, "stats", *RANGE, "--format", "json")
    assert code == 0
    assert json.loads(out)[0]["calls"] == 3


def test_database_without_schema_points_to_db_upgrade(capsys: pytest.CaptureFixture[str], pg_cluster: Any) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    try:
        code, _, err = run(capsys, "stats", "--database-url", url)
        assert code == 1
        assert len(err.splitlines()) == 1
        assert "tokentrail db upgrade" in err

        code, out, _ = run(capsys, "db", "upgrade", "--database-url", url)
        assert code == 0
        versions = ", ".join(str(m.version) for m in migrate.available())
        assert out == f"applied migrations {versions}\n"
        code, out, _ = run(capsys, "db", "upgrade", "--database-url", url)
        assert (code, out) == (0, "the schema is up to date\n")
        code, _, err = run(capsys, "stats", "--database-url", url)
        assert (code, err) == (0, "no calls in this range\n")
    finally:
        pg_cluster.drop_database(name)


# --- reports ----------------------------------------------------------------------------------------------


def test_stats_formats_agree(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    insert(conn, sample())
    base = ["stats", *RANGE, "--by", "model", "--database-url", database_url]
    code, out, _ = run(capsys, *base, "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [(r["model"], r["calls"], r["errors"]) for r in records] == [
        ("claude-sonnet-4-5", 2, 1),
        ("claude-haiku-4-5", 1, 0),
    ]
    assert records[0]["cost_usd"] == pytest.approx(0.0125)
    assert records[0]["latency_p50_ms"] == pytest.approx(2150.0)
    assert records[0]["ttfc_p50_ms"] == pytest.approx(300.0)

    code, out, _ = run(capsys, *base, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["model"], r["calls"], r["error_rate"]) for r in rows] == [
        ("claude-sonnet-4-5", "2", "0.5"),
        ("claude-haiku-4-5", "1", "0.0"),
    ]
    assert rows[1]["ttfc_p50_ms"] == ""

    code, out, _ = run(capsys, *base)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "model", "calls", "errors", "input", "tok", "output", "tok", "cache", "hit", "cost", "p50", "p95", "p99",
        "ttfc", "p50", "ttfc", "p95",
    ]  # fmt: skip
    assert len({len(line) for line in lines}) == 1  # aligned: every line as wide as the header
    assert lines[1].split()[:7] == ["claude-sonnet-4-5", "2", "50.0%", "100", "20", "0.0%", "$0.0125"]
    assert lines[2].split()[-2:] == ["-", "-"]


def test_stats_by_tag_and_default_range(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    recent = datetime.now(UTC) - timedelta(hours=1)
    insert(conn, [Call(recent, tags=["rag", "beta"]), Call(recent, tags=["rag"]), Call(recent - timedelta(days=8))])
    code, out, _ = run(capsys, "stats", "--by", "tag", "--format", "json", "--database-url", database_url)
    assert code == 0
    assert sorted((r["tag"], r["calls"]) for r in json.loads(out)) == [("beta", 1), ("rag", 2)]


def test_calls_lists_newest_first_with_preview(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    calls = sample()
    insert(conn, calls)
    code, out, _ = run(capsys, "calls", *RANGE, "--database-url", database_url)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["time", "(UTC)", "trace", "model"]
    assert len(lines) == 3
    assert lines[0].startswith("2026-11-18 09:32:00  " + calls[2].trace_id)
    assert "error rate_limit_error" in lines[0]
    assert "Number of requests has exceeded your ra…" in lines[0]
    assert lines[2].endswith("What is our refund policy for annual plans?")
    assert "$0.0125" in lines[2]

    code, out, _ = run(
        capsys, "calls", "--user", "alice", "--status", "ok", "--format", "json", "--database-url", database_url
    )
    assert code == 0
    (record,) = json.loads(out)
    assert record["trace_id"] == calls[0].trace_id
    assert record["start_time"] == "2026-11-18T09:30:00+00:00"
    assert record["prompt_preview"] == "What is our refund policy for annual plans?"

    code, out, _ = run(capsys, "calls", "--min-latency", "1s", "--min-cost", "$0.01", "--format", "csv",
                       "--database-url", database_url)  # fmt: skip
    assert code == 0
    assert [r["span_id"] for r in csv.DictReader(io.StringIO(out))] == [calls[0].span_id]

    code, out, err = run(capsys, "calls", "--model", "claude-opus-4-1", "--database-url", database_url)
    assert (code, out, err) == (0, "", "no calls match\n")
    code, out, _ = run(
        capsys, "calls", "--model", "claude-opus-4-1", "--format", "json", "--database-url", database_url
    )
    assert (code, json.loads(out)) == (0, [])


def _trace_fixture(conn: psycopg.Connection[Any]) -> str:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    root = Span(trace, "a" * 16, "POST /chat", T0, 1500.0, kind=2)
    step = Span(trace, "b" * 16, "retrieve", T0 + timedelta(milliseconds=10), 300.0, parent_span_id=root.span_id)
    haiku = Call(T0 + timedelta(milliseconds=20), duration_ms=250.0, model="claude-haiku-4-5", trace_id=trace,
                 span_id="c" * 16, parent_span_id=step.span_id)  # fmt: skip
    sonnet = Call(T0 + timedelta(milliseconds=400), duration_ms=1000.0, trace_id=trace, span_id="d" * 16,
                  parent_span_id=root.span_id, status="error", error_type="overloaded_error", input_tokens=None,
                  output_tokens=None, cost=None)  # fmt: skip
    worker = Span(trace, "e" * 16, "summarise", T0 + timedelta(milliseconds=1400), 100.0, parent_span_id=root.span_id,
                  status_code=2, status_message="disk full", service="worker")  # fmt: skip
    orphan = Span(trace, "1" * 16, "late step", T0 + timedelta(milliseconds=5), 5.0, parent_span_id="f" * 16)
    insert(conn, [root, step, haiku, sonnet, worker, orphan])
    return trace


def test_trace_tree_text(capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str) -> None:
    trace = _trace_fixture(conn)
    code, out, _ = run(capsys, "trace", trace.upper(), "--database-url", database_url)
    assert code == 0
    assert out == (
        f"trace {trace}  6 spans  1.50s  2 LLM calls  120 tokens  $0.0010\n"
        "POST /chat  1.50s  [api]\n"
        "├── retrieve  300ms\n"
        "│   └── chat claude-haiku-4-5  250ms  in 100 out 20  $0.0010  ok\n"
        "├── chat claude-sonnet-4-5  1.00s  error overloaded_error\n"
        "└── summarise  100ms  [worker]  error: disk full\n"
        "late step  5.0ms  [api]  (parent ffffffffffffffff not stored)\n"
    )


def test_trace_json_and_csv(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    trace = _trace_fixture(conn)
    code, out, _ = run(capsys, "trace", trace, "--format", "json", "--database-url", database_url)
    assert code == 0
    roots = json.loads(out)
    assert [r["name"] for r in roots] == ["POST /chat", "late step"]
    assert [c["name"] for c in roots[0]["children"]] == ["retrieve", "chat claude-sonnet-4-5", "summarise"]
    assert roots[0]["children"][0]["children"][0]["llm"]["cost_usd"] == pytest.approx(0.001)

    code, out, _ = run(capsys, "trace", trace, "--format", "csv", "--database-url", database_url)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["depth"], r["name"]) for r in rows] == [
        ("0", "POST /chat"),
        ("1", "retrieve"),
        ("2", "chat claude-haiku-4-5"),
        ("1", "chat claude-sonnet-4-5"),
        ("1", "summarise"),
        ("0", "late step"),
    ]

    code, out, err = run(capsys, "trace", secrets.token_hex(16), "--database-url", database_url)
    assert code == 1
    assert out == ""
    assert "no spans of trace" in err


def test_compare(capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str) -> None:
    recent = datetime.now(UTC) - timedelta(days=2)
    insert(
        conn,
        [
            Call(recent, duration_ms=100.0, prompt_name="support", prompt_version="v1", output_tokens=10),
            Call(recent, duration_ms=300.0, prompt_name="support", prompt_version="v1", output_tokens=30),
            Call(recent, duration_ms=500.0, prompt_name="support", prompt_version="v2", status="error",
                 output_tokens=None, cost=None),
        ],
    )  # fmt: skip
    args = ["compare", "--prompt", "support", "--versions", "v1", "v2", "v3", "--database-url", database_url]
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [(r["version"], r["calls"], r["success_rate"], r["latency_p50_ms"]) for r in records] == [
        ("v1", 2, 1.0, 200.0),
        ("v2", 1, 0.0, 500.0),
        ("v3", 0, None, None),
    ]
    assert records[0]["mean_output_tokens"] == 20.0
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert [line.split() for line in out.splitlines()[1:]] == [
        ["v1", "2", "100.0%", "200ms", "290ms", "$0.0010", "20.0"],
        ["v2", "1", "0.0%", "500ms", "500ms", "-", "-"],
        ["v3", "0", "-", "-", "-", "-", "-"],
    ]


def test_prune(capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=120)
    insert(conn, [Call(old, input_body=user_messages("forgotten")), Call(now - timedelta(hours=1))])
    suffix = old.strftime("%Y%m%d")
    code, out, _ = run(capsys, "prune", "--older-than", "90d", "--dry-run", "--database-url", database_url)
    assert code == 0
    lines = out.splitlines()
    assert lines[1:] == [
        f"would drop llm_call_reports_p{suffix} (0 rows)",
        f"would drop llm_calls_p{suffix} (1 rows)",
        f"would drop spans_p{suffix} (1 rows)",
        "would drop 3 partitions (2 rows) and 1 unreferenced content blobs",
    ]
    row = conn.execute("SELECT count(*) FROM llm_calls").fetchone()
    assert row == (2,)

    code, out, _ = run(capsys, "prune", "--older-than", "90d", "--format", "json", "--database-url", database_url)
    assert code == 0
    result = json.loads(out)
    assert (result["dry_run"], result["rows"], result["blobs"]) == (False, 2, 1)
    assert sorted(p["name"] for p in result["partitions"]) == [
        f"llm_call_reports_p{suffix}",
        f"llm_calls_p{suffix}",
        f"spans_p{suffix}",
    ]
    assert conn.execute("SELECT count(*) FROM llm_calls").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM content_blobs").fetchone() == (0,)
    assert conn.execute("SELECT to_regclass(%s)", (f"spans_p{suffix}",)).fetchone() == (None,)


def test_delegated_commands_return_their_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "standin", "--help")
    assert code == 0
    assert "usage:" in out


@pytest.mark.parametrize("command", [["stats"], ["db", "upgrade"]])
def test_malformed_database_url_is_a_usage_error(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    code, out, err = run(capsys, *command, "--database-url", "not a url")
    assert (code, out) == (2, "")
    assert err.startswith("tokentrail: invalid database URL:")
    assert len(err.splitlines()) == 1


def test_ui_refuses_another_address_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "ui", "--host", "0.0.0.0", "--database-url", "postgresql://u@127.0.0.1:1/x")
    assert code == 2
    assert out == ""
    assert err.startswith("tokentrail: refusing to serve the UI on 0.0.0.0 without a token")
