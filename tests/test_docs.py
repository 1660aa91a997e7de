"""The documentation's runnable examples and links: README.md and docs/*.md.

A fenced code block is run when the line right before its opening fence is an HTML comment starting with `test`
(invisible when the Markdown is rendered):

    <!-- test -->                        run it in an empty temporary directory
    <!-- test postgres -->               ... with TOKENTRAIL_DATABASE_URL set to a fresh migrated database holding
                                         the sample calls below (trace 4bf92f3577b34da6a3ce929d0e0e4736 among them)
    <!-- test standin -->                ... with ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY pointing at the local stand-in
                                         and spans printed by the console exporter instead of sent over OTLP
    <!-- test postgres expect="calls" -->  also require each `expect` text in the block's output (stdout + stderr)

`bash`, `sh` and `shell` blocks run under `bash -euo pipefail`; `python` blocks run with this interpreter; `sql`
blocks (which need `postgres`) run in one transaction that is rolled back, and their last statement must return
rows (its rows are the block's output). The
environment is the test's own minus every `TOKENTRAIL_*`, `OTEL_*` and `ANTHROPIC_*` variable, plus the ones the
markers set, and this virtual environment's `bin/` first on PATH (so `tokentrail`, `opentelemetry-instrument`
and `python` are the project's). Blocks must finish within a minute. Blocks that need the whole stack (collector,
Jaeger, `make demo`) are not marked: the end-to-end tests under tests/e2e/ run those paths.

Every relative link (and `#anchor`, against GitHub's heading slugs) in those files must point at something that
exists.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert, user_messages

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
SAMPLE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
MARKERS = {"postgres", "standin"}
RUNNERS = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "sql": "sql"}

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(test\b.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    code: str
    markers: frozenset[str] = frozenset()
    expect: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class _Open:
    fence: str
    indent: int
    line: int
    language: str
    marker: str | None
    lines: list[str] = field(default_factory=list)


def _parse_marker(text: str, where: str) -> tuple[frozenset[str], tuple[str, ...]]:
    words = shlex.split(text)[1:]
    markers = {word for word in words if "=" not in word}
    expect = tuple(word.split("=", 1)[1] for word in words if word.startswith("expect="))
    unknown = markers - MARKERS
    others = [word for word in words if "=" in word and not word.startswith("expect=")]
    if unknown or others:
        raise ValueError(f"{where}: unknown test marker {sorted(unknown) or others}")
    return frozenset(markers), expect


def code_blocks(path: Path) -> Iterator[tuple[Block, bool]]:
    """Every fenced block of a Markdown file, with whether a `<!-- test ... -->` marker precedes it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    current: _Open | None = None
    for number, line in enumerate(lines, start=1):
        if current is None:
            match = _FENCE.match(line)
            if match is None:
                continue
            previous = lines[number - 2] if number >= 2 else ""
            marker = _MARKER.match(previous)
            info = match["info"].strip()
            language = info.split()[0].lower() if info else ""
            current = _Open(match["fence"], len(match["indent"]), number, language, marker[1] if marker else None)
            continue
        stripped = line.strip()
        if stripped.startswith(current.fence[0] * len(current.fence)) and set(stripped) == {current.fence[0]}:
            code = "\n".join(current.lines) + "\n"
            marked = current.marker is not None
            markers, expect = (
                _parse_marker(current.marker, f"{path}:{current.line}") if current.marker else (frozenset(), ())
            )
            yield Block(path, current.line, current.language, code, markers, expect), marked
            current = None
            continue
        current.lines.append(line[current.indent :] if line[: current.indent].isspace() else line)
    if current is not None:
        raise ValueError(f"{path}:{current.line}: code block is never closed")


def _runnable() -> list[Block]:
    return [block for path in DOCS for block, marked in code_blocks(path) if marked]


RUNNABLE = _runnable()


def test_marked_blocks_exist_and_are_runnable() -> None:
    """The docs keep runnable examples, each in a language this test can run."""
    assert any(block.path.name == "README.md" for block in RUNNABLE)
    for block in RUNNABLE:
        assert block.language in RUNNERS, f"{block.id}: cannot run a {block.language!r} block"
        assert block.code.strip(), block.id
        if block.language == "sql":
            assert "postgres" in block.markers, f"{block.id}: an SQL block needs the `postgres` marker"


# --- sample data for `postgres` blocks ------------------------------------------------------------------------


def _sample(conn: psycopg.Connection[Any]) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(hours=3)
    server = "b7ad6b7169203331"
    workflow = "00f067aa0ba902b7"
    question = user_messages("How long do refunds take?")
    answer = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "5 to 10 business days."}]}])
    items: list[Call | Span] = [
        Span(SAMPLE_TRACE, server, "POST /answer", start, 2400.0, kind=2, service="answer-service"),
        Span(
            SAMPLE_TRACE,
            workflow,
            "invoke_workflow answer",
            start + timedelta(milliseconds=5),
            2380.0,
            server,
            service="answer-service",
        ),
        Call(
            start + timedelta(milliseconds=10),
            420.0,
            "claude-haiku-4-5",
            input_tokens=310,
            output_tokens=12,
            cost=Decimal("0.00037"),
            user="alice",
            input_body=question,
            output_body=answer,
            trace_id=SAMPLE_TRACE,
            parent_span_id=workflow,
            service="answer-service",
        ),
        Call(
            start + timedelta(milliseconds=440),
            900.0,
            "claude-sonnet-4-6",
            input_tokens=1900,
            output_tokens=60,
            cache_read=1500,
            cost=Decimal("0.00225"),
            user="alice",
            input_body=question,
            output_body=answer,
            trace_id=SAMPLE_TRACE,
            parent_span_id=workflow,
            service="answer-service",
            prompt_name="answer",
            prompt_version="v2",
        ),
        Call(
            start + timedelta(milliseconds=1350),
            1030.0,
            "claude-sonnet-4-6",
            input_tokens=2100,
            output_tokens=180,
            cache_read=1500,
            cost=Decimal("0.00450"),
            ttfc_ms=310.0,
            user="alice",
            input_body=question,
            output_body=answer,
            trace_id=SAMPLE_TRACE,
            parent_span_id=workflow,
            service="answer-service",
            prompt_name="answer",
            prompt_version="v2",
        ),
    ]
    for hour in range(1, 12):
        items += [
            Call(
                now - timedelta(hours=hour * 5),
                800.0 + hour * 40,
                "claude-sonnet-4-6",
                input_tokens=1200,
                output_tokens=150,
                cache_read=800,
                cost=Decimal("0.0030"),
                user="bob",
                prompt_name="answer",
                prompt_version="v1" if hour % 2 else "v2",
                tags=["rag"],
            ),
            Call(
                now - timedelta(hours=hour * 5, minutes=7),
                300.0,
                "claude-haiku-4-5",
                input_tokens=400,
                output_tokens=40,
                cost=Decimal("0.0006"),
                user="carol",
            ),
        ]
    # A model no price data knows: stored without a cost (docs/troubleshooting.md, "Missing cost").
    items.append(Call(now - timedelta(hours=30), 640.0, "acme-finetune-v3", cost=None, user="carol"))
    items.append(
        Call(
            now - timedelta(hours=20),
            35.0,
            "claude-sonnet-4-6",
            status="error",
            error_type="overloaded_error",
            error_message="Overloaded",
            input_tokens=None,
            output_tokens=None,
            cache_read=None,
            cache_write=None,
            cost=None,
            user="bob",
        )
    )
    insert(conn, items)


@pytest.fixture
def docs_database(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("database_url")
    with psycopg.connect(url, autocommit=True) as conn:
        _sample(conn)
    return url


def _environment(block: Block, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENTRAIL_", "OTEL_", "ANTHROPIC_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    if "postgres" in block.markers:
        env["TOKENTRAIL_DATABASE_URL"] = request.getfixturevalue("docs_database")
    if "standin" in block.markers:
        standin = request.getfixturevalue("standin")
        env.update(
            ANTHROPIC_BASE_URL=standin.base_url,
            ANTHROPIC_API_KEY="test",
            OTEL_TRACES_EXPORTER="console",
            OTEL_METRICS_EXPORTER="none",
        )
    return env


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(block, id=block.id, marks=[pytest.mark.postgres] if "postgres" in block.markers else [])
        for block in RUNNABLE
    ],
)
def test_documented_block_runs(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    env = _environment(block, request)
    runner = RUNNERS[block.language]
    if runner == "sql":
        output = _run_sql(env["TOKENTRAIL_DATABASE_URL"], block)
        for text in block.expect:
            assert text in output, f"{block.id}: {text!r} not in the result:\n{output}"
        return
    argv = ["bash", "-euo", "pipefail", "-c", block.code] if runner == "bash" else [sys.executable, "-c", block.code]
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.id} exited with {result.returncode}:\n{output}"
    for text in block.expect:
        assert text in output, f"{block.id}: {text!r} not in the output:\n{output}"


def _run_sql(url: str, block: Block) -> str:
    with psycopg.connect(url) as conn:
        try:
            cursor = conn.execute(block.code.encode())  # several statements: the simple query protocol
            while cursor.nextset():  # the last statement's result
                pass
            assert cursor.description is not None, f"{block.id}: the last statement returns no rows"
            rows = cursor.fetchall()
        finally:
            conn.rollback()
    assert rows, f"{block.id}: the query returned no rows on the sample data"
    header = " | ".join(column.name for column in cursor.description)
    return "\n".join([header, *(" | ".join(map(str, row)) for row in rows)])


# --- links ----------------------------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|!\[[^\]]*\]\(\s*([^)\s]+)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _without_code(text: str, *, inline: bool = True) -> str:
    """The text without fenced blocks and (with `inline`) inline code: links inside code are not links."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match["fence"]
            continue
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
            continue
        kept.append(re.sub(r"`[^`]*`", "", line) if inline else line)
    return "\n".join(kept)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in _without_code(path.read_text(encoding="utf-8"), inline=False).splitlines():
        match = _HEADING.match(line)
        if match is None:
            continue
        slug = github_slug(match[2])
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        found.add(slug if seen == 0 else f"{slug}-{seen}")
    return found


def links(path: Path) -> list[str]:
    text = _without_code(path.read_text(encoding="utf-8"))
    return [a or b for a, b in _LINK.findall(text)] + _REFERENCE.findall(text)


@pytest.mark.parametrize("path", DOCS, ids=[str(path.relative_to(ROOT)) for path in DOCS])
def test_relative_links_resolve(path: Path) -> None:
    checked = 0
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        location, _, anchor = target.partition("#")
        resolved = (path.parent / location).resolve() if location else path
        assert resolved.exists(), f"{path.relative_to(ROOT)}: link to missing {target!r}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{path.relative_to(ROOT)}: no heading for {target!r}"
        checked += 1
    if path.name == "README.md":
        assert checked >= 5, "the README links to the documentation"


def test_slugs_follow_github() -> None:
    assert github_slug("Zero code: `opentelemetry-instrument`") == "zero-code-opentelemetry-instrument"
    assert github_slug("503s from the sink") == "503s-from-the-sink"
    assert github_slug("Cost, tokens & latency") == "cost-tokens--latency"
