"""tokentrail.reports.callfilter's text search resolved to the content it matches: the same calls as the search
itself, whichever way it is read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert, user_messages
from tokentrail.reports import queries
from tokentrail.reports.callfilter import CallFilter, resolve_search

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _calls() -> list[Call]:
    out = []
    for i in range(30):
        out.append(
            Call(
                NOW - timedelta(minutes=i),
                input_body=user_messages(f"question {i % 7} about the Refund policy" if i % 3 == 0 else f"hello {i}"),
                output_body=f'[{{"role": "assistant", "parts": [{{"type": "text", "content": "answer {i % 5}"}}]}}]',
                system_body="You are terse. Never mention PINEAPPLE." if i % 10 == 4 else None,
            )
        )
    return out


@pytest.mark.parametrize("text", ["refund", "ANSWER 3", "pineapple", "not stored anywhere", "question 1 about"])
def test_a_resolved_search_selects_the_same_calls(conn: psycopg.Connection[Any], text: str) -> None:
    insert(conn, _calls())
    where = CallFilter(search=text, limit=100)
    plain = [r.span_id for r in queries.calls(conn, where)]
    resolved = resolve_search(conn, where)
    assert resolved.search_blobs is not None
    assert [r.span_id for r in queries.calls(conn, resolved)] == plain
    assert queries.count_calls(conn, resolved) == queries.count_calls(conn, where) == len(plain)
    if text == "not stored anywhere":
        assert resolved.search_blobs == ()
        assert plain == []
    else:
        assert plain, "the data set must exercise the search"


def test_a_broad_search_stays_a_subquery(conn: psycopg.Connection[Any]) -> None:
    insert(conn, _calls())
    where = CallFilter(search="hello", limit=100)
    assert resolve_search(conn, where, most=3) == where  # more bodies match than `most`
    assert len(queries.calls(conn, where)) == 20
    unchanged = CallFilter(user="nobody")
    assert resolve_search(conn, unchanged) is unchanged


def test_search_blobs_need_the_search_they_resolve() -> None:
    with pytest.raises(ValueError, match="search_blobs"):
        CallFilter(search_blobs=(b"\x00" * 32,))
