"""Sessions and users pages over HTTP and in Chromium: lists, a session replayed, a user's spend, numbers vs SQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.reports.conversation import conversation, parse_messages
from tokentrail.reports.sessions import SessionCall
from tokentrail.ui.pages.people import new_turns

pytestmark = pytest.mark.postgres

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)


def _turn(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def seed_chat(conn: psycopg.Connection[Any]) -> list[Call]:
    """Session chat-1 of alice: three calls, each resending the history; plus other users' calls."""
    history: list[dict[str, Any]] = []
    calls = []
    for i, (question, answer) in enumerate([("Hi, who are you?", "A helpful bot."), ("What is OTel?", "Tracing."),
                                            ("Thanks!", "You're welcome.")]):  # fmt: skip
        history.append(_turn("user", question))
        calls.append(
            Call(
                NOW + timedelta(minutes=i),
                user="alice",
                session="chat-1",
                cost=Decimal("0.01") * (i + 1),
                model="claude-haiku-4-5" if i == 1 else "claude-sonnet-4-5",
                system_body=json.dumps([{"type": "text", "content": "Be kind."}]),
                input_body=json.dumps(history),
                output_body=json.dumps([_turn("assistant", answer)]),
            )
        )
        history.append(_turn("assistant", answer))
    calls.append(Call(NOW - timedelta(days=2), user="alice", session="old-chat", cost=Decimal("0.5")))
    calls.append(Call(NOW, user="bob", session="bob-1", cost=Decimal("2")))
    insert(conn, calls)
    return calls


def test_new_turns_skips_what_the_previous_call_showed() -> None:
    def call(inputs: list[dict[str, Any]], output: str) -> SessionCall:
        conv = conversation(None, json.dumps(inputs), json.dumps([_turn("assistant", output)]), None)
        return SessionCall("t", "s", NOW, 1.0, None, "ok", None, None, None, None, None, conv)

    first = call([_turn("user", "a")], "b")
    second = call([_turn("user", "a"), _turn("assistant", "b"), _turn("user", "c")], "d")
    unrelated = call([_turn("user", "x")], "y")
    assert new_turns([first, second, unrelated]) == [0, 2, 0]
    assert parse_messages(None).messages == ()


def test_sessions_and_users_lists_match_sql(ui_server: Any, conn: psycopg.Connection[Any]) -> None:
    seed_chat(conn)
    html = httpx.get(ui_server.url + "/sessions?range=24h").text
    assert "chat-1" in html
    assert "bob-1" in html
    assert "old-chat" not in html  # outside the range
    assert httpx.get(ui_server.url + "/sessions?range=7d").text.count('class="session-link"') == 3
    users = httpx.get(ui_server.url + "/users?range=7d")
    assert users.status_code == 200
    row = conn.execute("SELECT sum(cost_usd) FROM llm_calls WHERE user_id = 'alice'").fetchone()
    assert row is not None
    assert f"${float(row[0]):,.4f}" in users.text
    assert users.text.index("bob") < users.text.index("alice")  # by cost
    first = httpx.get(ui_server.url + "/sessions?range=7d&size=1")
    assert first.status_code == 200
    assert "rows 1\u20131 of 3" in first.text
    assert 'rel="next" href="?range=7d&amp;size=1&amp;page=2"' in first.text
    second = httpx.get(ui_server.url + "/users?range=7d&size=1&page=2")
    assert "rows 2\u20132 of 2" in second.text
    assert 'rel="prev"' in second.text
    assert second.text.count('class="user-link"') == 1
    for path, status, text in [
        ("/sessions/no-such-session", 404, "no call of session"),
        ("/users?size=100000", 400, "size:"),
        ("/sessions?range=3y", 400, "range:"),
        ("/users/alice?sort=sideways", 400, "sort:"),
        ("/sessions/" + "x" * 300, 400, "session_id:"),
    ]:
        response = httpx.get(ui_server.url + path)
        assert response.status_code == status, path
        assert text in response.text
        assert "Traceback" not in response.text


def test_session_replay_and_user_page_in_chromium(
    ui_server: Any, conn: psycopg.Connection[Any], page: Any, page_log: Any, screenshot: Callable[[Any, str], Path]
) -> None:
    seed_chat(conn)
    page.goto(ui_server.url + "/sessions?range=24h")
    page.locator("a.session-link", has_text="chat-1").click()
    page.wait_for_url("**/sessions/chat-1")
    replay = page.locator("#replay")
    # each turn once, in order, though every request resent the history
    users = replay.locator(".role-user").all_inner_texts()
    assert [t.split("\n", 1)[1].strip() for t in users] == ["Hi, who are you?", "What is OTel?", "Thanks!"]
    assert replay.locator(".role-system").count() == 1
    assert replay.locator(".role-assistant").count() == 3
    assert page.locator("#session-calls").inner_text() == "3"
    assert page.locator("#session-cost").inner_text() == "$0.0600"
    screenshot(page, "session")

    page.goto(ui_server.url + "/users/alice?range=7d")
    total = conn.execute("SELECT count(*), sum(cost_usd) FROM llm_calls WHERE user_id = 'alice'").fetchone()
    assert total is not None
    assert page.locator("#user-calls").inner_text() == str(total[0])
    assert page.locator("#user-spend").inner_text() == f"${float(total[1]):,.4f}"
    chart = page.locator("figure.chart-box svg")
    assert chart.count() == 1
    legend = page.locator("figure.chart-box ul.legend").inner_text()
    assert "claude-haiku-4-5" in legend
    assert "claude-sonnet-4-5" in legend
    assert page.locator("#user-calls-table tbody tr").count() == 4
    screenshot(page, "user")
    page.goto(ui_server.url + "/users?range=7d")
    screenshot(page, "users")
    assert page_log.errors == []
    assert all(url.startswith(ui_server.url) for url in page_log.requests)
