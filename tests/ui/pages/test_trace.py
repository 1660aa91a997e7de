"""The trace page over HTTP and in Chromium: the waterfall, an LLM span's call panel, its conversation, 400s."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert

pytestmark = pytest.mark.postgres

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
MS = timedelta(milliseconds=1)


def seed_trace(conn: psycopg.Connection[Any]) -> tuple[str, Call]:
    """A request: server span, a workflow step, a tool span and two LLM calls; returns (trace id, the main call)."""
    trace = secrets.token_hex(16)
    server = Span(trace, secrets.token_hex(8), "POST /chat", NOW, 2400.0, kind=2)
    step = Span(trace, secrets.token_hex(8), "invoke_workflow answer", NOW + 5 * MS, 2300.0,
                parent_span_id=server.span_id, attributes={"gen_ai.operation.name": "invoke_workflow"})  # fmt: skip
    tool = Span(trace, secrets.token_hex(8), "execute_tool get_weather", NOW + 1300 * MS, 40.0,
                parent_span_id=step.span_id, attributes={"gen_ai.operation.name": "execute_tool"})  # fmt: skip
    main = Call(
        NOW + 10 * MS,
        duration_ms=1200.0,
        trace_id=trace,
        parent_span_id=step.span_id,
        model="claude-sonnet-4-5",
        input_tokens=2500,
        cache_read=2000,
        cache_write=300,
        output_tokens=80,
        reasoning=30,
        cost=Decimal("0.004215"),
        ttfc_ms=310.0,
        finish_reasons=["tool_call"],
        user="alice",
        session="sess-1",
        system_body=json.dumps([{"type": "text", "content": "You are a weather bot."}]),
        input_body=json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]),
        output_body=json.dumps(
            [
                {
                    "role": "assistant",
                    "finish_reason": "tool_call",
                    "parts": [
                        {"type": "reasoning", "content": "I should call the weather tool."},
                        {"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"city": "Paris"}},
                    ],
                }
            ]
        ),
        tools_body=json.dumps(
            [
                {
                    "type": "function",
                    "name": "get_weather",
                    "description": "Current weather",
                    "parameters": {"type": "object"},
                }
            ]
        ),
        span_attributes={"gen_ai.request.max_tokens": 1024, "gen_ai.request.temperature": 0.5},
    )
    second = Call(NOW + 1400 * MS, duration_ms=900.0, trace_id=trace, parent_span_id=step.span_id,
                  status="error", error_type="overloaded_error", error_message="Overloaded", cost=None,
                  input_tokens=None, output_tokens=None)  # fmt: skip
    insert(conn, [server, step, tool, main, second])
    return trace, main


def test_bad_trace_and_span_ids_are_400_pages_and_unknown_ones_404(
    ui_server: Any, conn: psycopg.Connection[Any]
) -> None:
    trace, _ = seed_trace(conn)
    for path, status, text in [
        ("/traces/not-hex", 400, "trace_id:"),
        ("/traces/" + "0" * 32, 400, "trace_id:"),
        (f"/traces/{trace}?span=zz", 400, "span:"),
        (f"/traces/{secrets.token_hex(16)}", 404, "no span of trace"),
        (f"/traces/{trace}?span={secrets.token_hex(8)}", 404, "not a stored LLM call"),
    ]:
        response = httpx.get(ui_server.url + path)
        assert response.status_code == status, path
        assert text in response.text
        assert "Traceback" not in response.text


def test_trace_page_in_chromium_waterfall_call_panel_and_numbers_match_sql(
    ui_server: Any, conn: psycopg.Connection[Any], page: Any, page_log: Any, screenshot: Callable[[Any, str], Path]
) -> None:
    trace, main = seed_trace(conn)
    page.goto(f"{ui_server.url}/traces/{trace}")
    rows = page.locator("svg.waterfall .wf-row")
    assert rows.count() == 5
    assert page.locator("svg.waterfall a.wf-row").count() == 2  # only the LLM spans are links
    calls, cost, spans = conn.execute(
        "SELECT count(*), sum(cost_usd), (SELECT count(*) FROM spans WHERE trace_id = %s) FROM llm_calls"
        " WHERE trace_id = %s", (trace, trace)
    ).fetchone()  # fmt: skip
    assert page.locator("#trace-calls").inner_text() == str(calls)
    assert page.locator("#trace-spans").inner_text() == str(spans)
    assert page.locator("#trace-cost").inner_text() == f"${float(cost):,.4f}"
    assert page.locator("#trace-errors").inner_text() == "1"
    assert page.locator("#trace-wall").inner_text() == "2.40 s"
    assert page.locator("#jaeger-link").count() == 0  # no Jaeger URL configured

    page.locator(f"#span-{main.span_id}").click()
    page.wait_for_url(f"**/traces/{trace}?span={main.span_id}")
    panel = page.locator("#call-panel")
    assert panel.is_visible()
    row = conn.execute(
        "SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens FROM llm_calls"
        " WHERE span_id = %s", (main.span_id,)
    ).fetchone()  # fmt: skip
    assert row is not None
    shown = [
        page.locator(f"#tok-{k}").inner_text() for k in ("input", "cache-read", "cache-write", "output", "reasoning")
    ]
    assert shown == [f"{v:,}" for v in (row[0], row[1], row[2], row[3], row[4])]
    assert page.locator("#tok-uncached").inner_text() == f"{row[0] - row[1] - row[2]:,}"
    assert page.locator("#cost-total").inner_text() == "$0.0042"
    assert page.locator("#cost-cache-read").count() == 1  # the price book knows the model
    assert page.locator("#call-ttfc").inner_text() == "310 ms"
    assert page.locator("#call-finish").inner_text() == "tool_call"
    assert "max_tokens" in page.locator("#call-params").inner_text()
    conversation = panel.locator(".conversation")
    assert "You are a weather bot." in conversation.locator(".role-system").inner_text()
    assert "Weather in Paris?" in conversation.locator(".role-user").inner_text()
    assert conversation.locator(".part-tool-call .tool-name").inner_text() == "get_weather"
    assert json.loads(conversation.locator(".tool-arguments").inner_text()) == {"city": "Paris"}
    thinking = conversation.locator("details.part-thinking")
    assert thinking.get_attribute("open") is None  # collapsed until opened
    thinking.locator("summary").click()
    assert thinking.locator("pre").inner_text() == "I should call the weather tool."
    assert "get_weather" in (conversation.locator("details.tools").text_content() or "")
    screenshot(page, "trace")
    assert page_log.errors == []
    assert all(url.startswith(ui_server.url) for url in page_log.requests)


def test_error_call_panel_and_jaeger_link(conn: psycopg.Connection[Any], database_url: str) -> None:
    from tokentrail.ui.main import start
    from tokentrail.ui.settings import UiSettings

    trace, _ = seed_trace(conn)
    failed = conn.execute("SELECT span_id FROM llm_calls WHERE trace_id = %s AND status = 'error'", (trace,)).fetchone()
    assert failed is not None
    running = start(UiSettings(database_url=database_url, port=0, jaeger_url="http://jaeger.example:16686"))
    try:
        html = httpx.get(f"{running.url}/traces/{trace}?span={failed[0]}").text
    finally:
        running.stop()
    assert f'href="http://jaeger.example:16686/trace/{trace}"' in html
    assert "overloaded_error" in html
    assert "Overloaded" in html
    assert "No content was captured for this call." in html
