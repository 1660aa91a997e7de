"""docs/schema.md, "Questions and their commands": every documented command and SQL query, run against calls
whose answers are known, gives those answers."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.fixtures.rows import Call, Span, insert, user_messages
from tokentrail import cli
from tokentrail.db import settings

pytestmark = pytest.mark.postgres

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
SECTION = "## Questions and their commands"
TENANT = "tokentrail.app.tenant_id"
SONNET, HAIKU = "claude-sonnet-4-6", "claude-haiku-4-5"


@dataclass(frozen=True)
class Documented:
    question: str
    language: str
    code: str


def documented() -> list[Documented]:
    text = SCHEMA.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    following = re.search(r"^## ", section[len(SECTION) :], re.MULTILINE)
    if following:
        section = section[: len(SECTION) + following.start()]
    pattern = r"<!-- question ([\w-]+) -->\n```(\w+)\n(.*?)```"
    return [Documented(q, lang, code) for q, lang, code in re.findall(pattern, section, re.DOTALL)]


DOCUMENTED = documented()


def seed(now: datetime) -> list[Call | Span]:
    at = now - timedelta(hours=2)
    trace = "c" * 32
    return [
        Span(trace, "f" * 16, "POST /answer", at, 2000.0, kind=2,
             attributes={"http.request.header.x_request_id": ["req-42"]}),
        Call(at, 1000.0, SONNET, span_id="1" * 16, trace_id=trace, parent_span_id="f" * 16, user="alice",
             cost=Decimal("0.0100"), workflow="answer", call_type="rag_query", tool_names=["search"],
             tool_call_ids=["toolu_1"], attributes={TENANT: "acme"}, input_body=user_messages("refunds?")),
        Call(at + timedelta(minutes=1), 3000.0, HAIKU, span_id="2" * 16, user="alice", cost=Decimal("0.0020"),
             workflow="answer", call_type="summarization", attempts=3, attributes={TENANT: "acme"}),
        Call(at + timedelta(minutes=2), 500.0, SONNET, span_id="3" * 16, user="bob", cost=Decimal("0.0300"),
             workflow="triage", call_type="classification", tool_names=["lookup", "search"],
             tool_call_ids=["toolu_2", "toolu_3"], attributes={TENANT: "globex"}),
        Call(at + timedelta(minutes=3), 100.0, SONNET, span_id="4" * 16, user="alice", operation="count_tokens",
             input_tokens=777, output_tokens=None, cost=None, attributes={TENANT: "acme"}),
        Call(now - timedelta(days=45), 9000.0, SONNET, span_id="5" * 16, user="alice", cost=Decimal("1.0000"),
             attributes={TENANT: "acme"}),  # outside every documented range
    ]  # fmt: skip


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        insert(conn, seed(datetime.now(timezone.utc)))
    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    return database_url


def run_command(line: str, capsys: pytest.CaptureFixture[str], workdir: Path) -> Any:
    """A documented `tokentrail ...` line, run as written, then as JSON (the figures the check reads)."""
    argv = shlex.split(line)
    assert argv[0] == "tokentrail", line
    target = None
    if ">" in argv:
        argv, target = argv[: argv.index(">")], workdir / argv[argv.index(">") + 1]
    code = cli.main(argv[1:])
    out, err = capsys.readouterr()
    assert code == 0, f"{line}: {err}"
    if target is not None:
        target.write_text(out)
        return [json.loads(row) for row in target.read_text().splitlines()]
    code = cli.main([*argv[1:], "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, f"{line} --format json: {err}"
    return json.loads(out)


def run_sql(url: str, code: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        try:
            return conn.execute(code.encode()).fetchall()
        finally:
            conn.rollback()


def by(rows: list[dict[str, Any]], key: str, value: str) -> dict[Any, Any]:
    return {row[key]: float(row[value]) if row[value] is not None else None for row in rows}


def ids(rows: list[dict[str, Any]]) -> set[str]:
    return {row["span_id"][0] for row in rows}


# Each check gets the JSON of each command (a list per command line) or the SQL rows.
COMMAND_ANSWERS: dict[str, Callable[[list[Any]], None]] = {
    "cost-by-tenant": lambda out: _eq(by(out[0], "attr:tenant_id", "cost_usd"), {"acme": 0.012, "globex": 0.03}),
    "user-by-model": lambda out: _eq(by(out[0], "model", "cost_usd"), {SONNET: 0.01, HAIKU: 0.002}),
    "per-workflow": lambda out: (
        _eq(by(out[0], "workflow", "cost_usd"), {"triage": 0.03, "answer": 0.012, None: 0.0}),
        _eq(by(out[1], "call-type", "cost_usd"), {"rag_query": 0.01, "summarization": 0.002}),
    ),
    "call-types": lambda out: _eq(
        by(out[0], "call-type", "cost_usd"),
        {"classification": 0.03, "rag_query": 0.01, "summarization": 0.002, None: 0},
    ),
    "tools": lambda out: _eq(by(out[0], "tool", "calls"), {"search": 2, "lookup": 1, None: 2}),
    "retried": lambda out: _eq([(r["span_id"][0], r["attempts"]) for r in out[0]], [("2", 3)]),
    "token-counting": lambda out: _eq(
        (out[0][0]["calls"], out[0][0]["counted_tokens"], out[0][0]["input_tokens"], out[0][0]["cost_usd"]),
        (1, 777, 0, 0),
    ),
    "latency": lambda out: _eq(by(out[0], "model", "latency_mean_ms"), {SONNET: 1600 / 3, HAIKU: 3000.0}),
    "export": lambda out: (
        _eq(ids(out[0]), {"1", "2", "3", "4"}),
        _eq({r["span_id"][0]: r["cost_usd"] for r in out[0]}["1"], "0.0100000000"),
        _eq(next(r for r in out[0] if r["span_id"][0] == "1")["content_input"][0]["parts"][0]["content"], "refunds?"),
    ),
    "request-id": lambda out: _eq(ids(out[0]), {"1"}),
}
SQL_ANSWERS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "cost-by-tenant": lambda rows: _eq(by(rows, "tenant", "cost_usd"), {"acme": 0.012, "globex": 0.03}),
    "user-by-model": lambda rows: _eq(by(rows, "model", "cost_usd"), {SONNET: 0.01, HAIKU: 0.002}),
    "per-workflow": lambda rows: _eq(
        [(r["workflow_name"], r["call_type"], r["calls"]) for r in rows],
        [("answer", "rag_query", 1), ("answer", "summarization", 1), ("triage", "classification", 1)],
    ),
    "call-types": lambda rows: _eq(
        by(rows, "call_type", "cost_usd"), {"classification": 0.03, "rag_query": 0.01, "summarization": 0.002}
    ),
    "tools": lambda rows: _eq([(r["tool_name"], r["tool_calls"]) for r in rows], [("search", 2), ("lookup", 1)]),
    "retried": lambda rows: _eq([(r["attempts"], r["request_model"]) for r in rows], [(3, HAIKU)]),
    "token-counting": lambda rows: _eq([(r["calls"], r["counted_tokens"]) for r in rows], [(1, 777)]),
    "latency": lambda rows: _eq(by(rows, "model", "mean_ms"), {SONNET: 1600 / 3, HAIKU: 3000.0}),
    "export": lambda rows: _eq(ids(rows), {"1", "2", "3", "4"}),
    "request-id": lambda rows: _eq(ids(rows), {"1"}),
}


def _eq(found: Any, expected: Any) -> None:
    assert found == (pytest.approx(expected) if isinstance(expected, dict) else expected)


def test_every_question_has_its_command_and_its_answers() -> None:
    questions = {d.question for d in DOCUMENTED}
    assert questions == {*COMMAND_ANSWERS, "demo"}
    assert {d.question for d in DOCUMENTED if d.language == "sql"} == set(SQL_ANSWERS)
    assert {d.question for d in DOCUMENTED if d.language == "bash"} == questions


ANSWERED = [d for d in DOCUMENTED if d.question != "demo"]


@pytest.mark.parametrize("doc", ANSWERED, ids=[f"{d.question}-{d.language}" for d in ANSWERED])
def test_the_documented_answer(
    doc: Documented, seeded: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if doc.language == "sql":
        SQL_ANSWERS[doc.question](run_sql(seeded, doc.code))
    else:
        lines = [line for line in doc.code.splitlines() if line.strip() and not line.startswith("#")]
        COMMAND_ANSWERS[doc.question]([run_command(line, capsys, tmp_path) for line in lines])


def test_the_demo_question_reaches_the_demos_database(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (line,) = [d.code.strip() for d in DOCUMENTED if d.question == "demo"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".demo").symlink_to(pg_cluster.embedded.data_dir, target_is_directory=True)
    monkeypatch.setattr(settings, "DEFAULT_DATA_DIR", tmp_path / "no-data-here")
    monkeypatch.delenv("TOKENTRAIL_DATABASE_URL", raising=False)
    monkeypatch.delenv("TOKENTRAIL_DATA_DIR", raising=False)
    code = cli.main(shlex.split(line)[1:])
    _, err = capsys.readouterr()
    # The test cluster's own database has no schema: reaching it is what this checks (the demo's has one).
    assert code in (0, 1), err
    assert "no database configured" not in err
    if code == 1:
        assert f"127.0.0.1:{pg_cluster.port}/" in err


README = SCHEMA.parents[1] / "README.md"


def test_the_readme_lists_every_question_with_its_tested_command() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- questions -->") :].split("\n\n", 1)[0]
    listed = {cmd for row in table.splitlines()[3:] for cmd in re.findall(r"`(tokentrail [^`]+)`", row)}
    tested = {
        line.strip()
        for d in DOCUMENTED
        if d.language == "bash"
        for line in d.code.splitlines()
        if line.strip().startswith("tokentrail ")
    }
    assert listed == tested
    assert len(table.splitlines()) - 3 == len({d.question for d in DOCUMENTED})  # marker, header, rule
