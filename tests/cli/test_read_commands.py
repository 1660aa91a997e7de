"""`tokentrail stats` and `tokentrail calls`: the shared filters, groupings, sorting and paging, the jsonl and
all-column exports, and one-line usage errors, against a real PostgreSQL database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert, user_messages
from tokentrail import cli, reports

pytestmark = pytest.mark.postgres

UTC = timezone.utc
T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
RANGE = ["--since", "2026-11-18", "--until", "2026-11-19"]
TENANT = "tokentrail.app.tenant_id"


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def seed() -> list[Call | Span]:
    """Five calls, each picked out by some filter; span ids say which."""
    request = Span("a" * 32, "f" * 16, "POST /answer", T0, 3000.0, kind=2,
                   attributes={"http.request.header.x_request_id": ["req-42"]})  # fmt: skip
    return [
        request,
        Call(T0, span_id="1" * 16, trace_id="a" * 32, parent_span_id="f" * 16, duration_ms=1000.0, user="alice",
             workflow="answer", call_type="rag_query", attributes={TENANT: "acme"}, cost=Decimal("0.0100"),
             tool_names=["search"], tool_call_ids=["toolu_1"], prompt_name="support", prompt_version="v2",
             input_body=user_messages("Where is the refund policy?")),
        Call(T0 + timedelta(minutes=1), span_id="2" * 16, duration_ms=3000.0, user="alice", attempts=3,
             attributes={TENANT: "acme"}, cost=Decimal("0.0300"), session="s1", tags=["beta"]),
        Call(T0 + timedelta(minutes=2), span_id="3" * 16, duration_ms=500.0, user="bob", model="claude-haiku-4-5",
             status="error", error_type="overloaded_error", cost=None, service="worker",
             attributes={TENANT: "globex"}, call_type="summarization"),
        Call(T0 + timedelta(minutes=3), span_id="4" * 16, duration_ms=100.0, operation="count_tokens",
             input_tokens=777, output_tokens=None, cost=None, user="bob"),
        Call(T0 + timedelta(minutes=4), span_id="5" * 16, duration_ms=2000.0, user="carol", cost=Decimal("0.0200"),
             prompt_name="support", prompt_version="v1", workflow="answer"),
    ]  # fmt: skip


FILTERS = [
    (["--user", "alice"], {"1", "2"}),
    (["--status", "error"], {"3"}),
    (["--model", "claude-haiku-4-5"], {"3"}),
    (["--session", "s1"], {"2"}),
    (["--service", "worker"], {"3"}),
    (["--tag", "beta"], {"2"}),
    (["--workflow", "answer"], {"1", "5"}),
    (["--call-type", "rag_query"], {"1"}),
    (["--operation", "count_tokens"], {"4"}),
    (["--error-type", "overloaded_error"], {"3"}),
    (["--prompt", "support"], {"1", "5"}),
    (["--prompt", "support@v1"], {"5"}),
    (["--tool", "search"], {"1"}),
    (["--attr", "tenant_id=acme"], {"1", "2"}),
    (["--attr", "tenant_id=acme", "--attr", "tokentrail.app.tenant_id=acme", "--user", "alice"], {"1", "2"}),
    (["--request-id", "req-42"], {"1"}),
    (["--retried"], {"2"}),
    (["--not-retried", "--user", "alice"], {"1"}),
    (["--min-cost", "0.02"], {"2", "5"}),
    (["--min-latency", "2s"], {"2", "5"}),
    (["--search", "REFUND"], {"1"}),
    (["--since", "2026-11-18T09:02:00", "--until", "2026-11-18T09:04:00"], {"3", "4"}),
]


@pytest.mark.parametrize(("argv", "expected"), FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
def test_stats_and_calls_take_the_same_filters(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str, argv: list[str],
    expected: set[str],
) -> None:  # fmt: skip
    insert(conn, seed())
    base = [*RANGE, *argv] if "--since" not in argv else argv
    code, out, err = run(capsys, "calls", *base, "--format", "json", "--database-url", database_url)
    assert (code, err) == (0, "")
    assert {r["span_id"][0] for r in json.loads(out)} == expected
    code, out, err = run(capsys, "stats", *base, "--format", "json", "--database-url", database_url)
    assert (code, err) == (0, "")
    assert json.loads(out)[0]["calls"] == len(expected)


def test_stats_by_an_app_attribute_with_mean_latency_retries_and_counted_tokens(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    insert(conn, seed())
    code, out, _ = run(capsys, "stats", *RANGE, "--by", "attr:tenant_id", "--format", "json",
                       "--database-url", database_url)  # fmt: skip
    assert code == 0
    rows = {r["attr:tenant_id"]: r for r in json.loads(out)}
    assert rows["acme"]["calls"] == 2
    assert rows["acme"]["cost_usd"] == pytest.approx(0.04)
    assert rows["acme"]["latency_mean_ms"] == pytest.approx(2000.0)
    assert rows["acme"]["retried"] == 1
    assert rows[None]["counted_tokens"] == 777
    assert rows[None]["input_tokens"] == 100  # carol's chat call; the counted tokens are apart

    code, out, _ = run(capsys, "stats", *RANGE, "--database-url", database_url)
    assert code == 0
    header, line = out.splitlines()
    cells = dict(zip(header.replace(" tok", "_tok").replace(" hit", "_hit").split(), line.split(), strict=False))
    assert (cells["retried"], cells["counted_tok"], cells["mean"]) == ("1", "777", "1.32s")


def test_the_cli_groupings_and_sorts_are_the_read_layers() -> None:
    assert cli.GROUPINGS == reports.GROUPINGS
    assert cli.SORTS == reports.SORTS


def test_calls_sort_offset_limit_and_table_columns(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    insert(conn, seed())
    url = ["--database-url", database_url]
    code, out, _ = run(capsys, "calls", *RANGE, "--sort=-latency", "--format", "json", *url)
    assert [r["span_id"][0] for r in json.loads(out)] == ["2", "5", "1", "3", "4"]
    code, out, _ = run(capsys, "calls", *RANGE, "--sort", "-latency", "--offset", "1", "--limit", "2",
                       "--format", "json", *url)  # fmt: skip
    records = json.loads(out)
    assert [r["span_id"][0] for r in records] == ["5", "1"]
    assert {"workflow_name", "call_type", "tool_names", "attempts", "prompt_name", "prompt_version"} <= set(records[0])

    code, out, _ = run(capsys, "calls", *RANGE, "--user", "alice", *url)
    assert code == 0
    header, *lines = out.splitlines()
    assert [h for h in header.split() if h in {"workflow", "type", "prompt@ver", "tools", "tries"}] == [
        "workflow",
        "type",
        "prompt@ver",
        "tools",
        "tries",
    ]
    first = lines[1]  # oldest last: the RAG call
    assert "answer" in first
    assert "rag_query" in first
    assert "support@v2" in first
    assert "search" in first
    code, out, _ = run(capsys, "calls", *RANGE, "--user", "bob", "--operation", "chat", *url)
    assert "workflow" not in out.splitlines()[0]  # no listed call has one: the column is left out


def test_jsonl_streams_every_column_and_ignores_the_default_limit(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    many = [Call(T0 + timedelta(seconds=i), cost=Decimal("0.0012345678")) for i in range(55)]
    insert(conn, [*seed(), *many])
    url = ["--database-url", database_url]
    code, out, _ = run(capsys, "calls", *RANGE, "--format", "jsonl", *url)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 60  # not the table's 50
    (first,) = [line for line in lines if line["span_id"] == "1" * 16]
    assert first["cost_usd"] == "0.0100000000"  # money as an exact decimal string
    assert first["start_time"] == "2026-11-18T09:00:00+00:00"
    assert {line["cost_usd"] for line in lines} == {
        "0.0012345678",
        "0.0100000000",
        "0.0300000000",
        "0.0200000000",
        None,
    }
    assert {"trace_id", "span_id", "call_type", "tool_call_ids", "attributes", "input_sha256"} <= set(lines[0])

    code, out, _ = run(capsys, "calls", *RANGE, "--format", "jsonl", "--limit", "3", "--tool", "search",
                       "--with-content", *url)  # fmt: skip
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["tool_call_ids"] == ["toolu_1"]
    assert record["attributes"] == {TENANT: "acme"}
    assert record["content_input"][0]["parts"][0]["content"] == "Where is the refund policy?"
    code, out, _ = run(capsys, "calls", *RANGE, "--format", "jsonl", "--limit", "3", *url)
    assert len(out.splitlines()) == 3


def test_csv_with_all_columns(
    capsys: pytest.CaptureFixture[str], conn: psycopg.Connection[Any], database_url: str
) -> None:
    insert(conn, seed())
    code, out, _ = run(capsys, "calls", *RANGE, "--format", "csv", "--all-columns", "--retried",
                       "--database-url", database_url)  # fmt: skip
    assert code == 0
    (row,) = csv.DictReader(io.StringIO(out))
    assert (row["span_id"], row["attempts"], row["tags"]) == ("2" * 16, "3", '["beta"]')
    assert row["cost_usd"] == "0.0300000000"
    assert json.loads(row["attributes"]) == {TENANT: "acme"}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["stats", "--by", "nonsense"], "cannot group by 'nonsense'"),
        (["stats", "--by", "attr:bad key"], "not an attribute key"),
        (["calls", "--attr", "tenant_id"], "is not KEY=VALUE"),
        (["stats", "--attr", "bad key=1"], "not an attribute key"),
        (["calls", "--since", "last tuesday"], "argument --since"),
        (["stats", "--until", "2026-13-45"], "argument --until"),
        (["calls", "--prompt", "support@"], "is not a prompt"),
        (["stats", "--prompt", "@v2"], "is not a prompt"),
        (["calls", "--limit", "10001"], "over the maximum of 10000"),
        (["calls", "--offset", "-1"], "argument --offset"),
        (["calls", "--retried", "--not-retried"], "not allowed with argument"),
        (["calls", "--sort", "price"], "argument --sort"),
        (["calls", "--search", " "], "must not be empty"),
        (["calls", "--with-content"], "--with-content and --all-columns need"),
        (["stats", "--until", "30d"], "until"),  # before the default start, 7d ago
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv, "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert says in err
    assert "error:" in err
