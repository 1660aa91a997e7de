"""Hostile content in the conversation view, the session replay and the user page: shown as text, nothing runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, Span, insert

pytestmark = pytest.mark.postgres

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=3)
SCRIPT = "<script>window.__pwned = 1; alert('xss')</script>"
IMG = '"><img src=x onerror="window.__pwned = 2; alert(2)">'
LINK = "javascript:window.__pwned=3"
SVG = "</text></svg><svg onload=alert(4)>"
EVIL = f"{SCRIPT} {IMG} {LINK} {SVG} <a href='https://evil.example/x'>go</a>"


def test_hostile_content_is_text_and_no_script_runs(ui_server: Any, conn: psycopg.Connection[Any], page: Any,
                                                     page_log: Any) -> None:  # fmt: skip
    trace = "ab" * 16
    root = Span(trace, "1" * 16, EVIL, NOW, 1000.0, kind=2)
    call = Call(
        NOW + timedelta(milliseconds=5),
        trace_id=trace,
        span_id="2" * 16,
        parent_span_id=root.span_id,
        model=EVIL[:60],
        user=IMG,
        session=SCRIPT,
        error_message=EVIL,
        status="error",
        error_type=IMG,
        system_body=json.dumps([{"type": "text", "content": EVIL}]),
        input_body=json.dumps(
            [
                {
                    "role": IMG,
                    "parts": [
                        {"type": "text", "content": EVIL},
                        {"type": "tool_call_response", "id": IMG, "response": EVIL},
                    ],
                }
            ]
        ),
        output_body=json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [
                        {"type": "reasoning", "content": EVIL},
                        {"type": "tool_call", "id": LINK, "name": IMG, "arguments": {"x": SCRIPT}},
                        {"type": "uri", "modality": "image", "uri": "https://evil.example/pixel.png"},
                        {"type": EVIL, "content": EVIL},
                    ],
                }
            ]
        ),
        tools_body=json.dumps([{"type": "function", "name": SCRIPT, "description": IMG, "parameters": {"x": LINK}}]),
        span_attributes={"gen_ai.request.max_tokens": SCRIPT, "tokentrail.app.note": IMG},
        attributes={"tokentrail.app.note": IMG},
    )
    insert(conn, [root, call])
    from urllib.parse import quote

    paths = [
        f"/traces/{trace}",
        f"/traces/{trace}?span={call.span_id}",
        "/sessions?range=24h",
        "/sessions/" + quote(SCRIPT, safe=""),
        "/users?range=24h",
        "/users/" + quote(IMG, safe="") + "?range=24h",
    ]
    for path in paths:
        response = page.goto(ui_server.url + path)
        assert response is not None
        assert response.status == 200, path
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") is None, path
        body = page.locator("main").inner_text()
        assert "window.__pwned" in body, path  # shown, as text
        assert page.locator("main img").count() == 0, path
        assert page.locator("main script").count() == 0, path
        hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert not [h for h in hrefs if h.lower().startswith(("javascript:", "http"))], (path, hrefs)
    page.goto(ui_server.url + f"/traces/{trace}?span={call.span_id}")
    for details in page.locator("details").all():
        details.locator("summary").click()
    assert page.evaluate("window.__pwned") is None
    assert SCRIPT in page.locator("details.part-thinking pre").inner_text()
    assert page_log.dialogs == []
    assert page_log.errors == []
    assert all(url.startswith(ui_server.url) for url in page_log.requests), page_log.requests
