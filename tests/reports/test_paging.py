"""tokentrail.reports.paging: keyset cursors and bounded counts, against a real database.

Every page read by cursor is compared with the same page read by OFFSET, over rows that share sort keys and
start times, so a row skipped or repeated at a page boundary fails the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.reports import queries
from tokentrail.reports.paging import Cursor, cursor_at, parse_cursor

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def tied_calls() -> list[Call]:
    """Calls with many ties: four start times, three costs (one missing), two latencies, token sums that repeat."""
    calls = []
    for i in range(23):
        calls.append(
            Call(
                NOW - timedelta(minutes=i % 4),
                cost=(None, Decimal("0.002"), Decimal("0.01"))[i % 3],
                duration_ms=(500.0, 1234.5678)[i % 2],
                input_tokens=100 + 10 * (i % 3),
                output_tokens=20 if i % 5 else None,
                status="error" if i % 7 == 0 else "ok",
            )
        )
    return calls


def _ids(rows: list[queries.CallRow]) -> list[str]:
    return [r.span_id for r in rows]


@pytest.mark.parametrize("sort", queries.SORTS)
def test_cursor_pages_equal_offset_pages(conn: psycopg.Connection[Any], sort: str) -> None:
    insert(conn, tied_calls())
    everything = _ids(queries.calls(conn, queries.CallFilter(limit=100), sort))
    assert len(everything) == len(set(everything)) == 23
    size = 5
    pages, cursor = [], None
    while True:
        rows = queries.calls(conn, queries.CallFilter(limit=size), sort, cursor)
        if not rows:
            break
        offset_page = queries.calls(conn, queries.CallFilter(limit=size, offset=size * len(pages)), sort)
        assert _ids(rows) == _ids(offset_page)
        pages.append(rows)
        cursor = parse_cursor(cursor_at(sort, rows[-1]).text, sort)  # through its URL form
    assert [span for page in pages for span in _ids(page)] == everything
    # back again with `before` cursors: each previous page is the same rows in the same order
    for number in range(len(pages) - 1, 0, -1):
        back = parse_cursor(cursor_at(sort, pages[number][0], before=True).text, sort, before=True)
        assert _ids(queries.calls(conn, queries.CallFilter(limit=size), sort, back)) == _ids(pages[number - 1])
    # the rows read whole (a small selection) come in the same order as the walk
    assert _ids(queries.calls(conn, queries.CallFilter(limit=100), sort, few=True)) == everything
    middle = cursor_at(sort, pages[1][-1])
    assert _ids(queries.calls(conn, queries.CallFilter(limit=7), sort, middle, few=True)) == everything[10:17]


def test_cursor_keeps_its_place_among_filtered_rows(conn: psycopg.Connection[Any]) -> None:
    calls = tied_calls()
    insert(conn, calls)
    where = queries.CallFilter(status="ok", limit=4, offset=4)
    second = queries.calls(conn, where, "-cost")
    first = queries.calls(conn, queries.CallFilter(status="ok", limit=4), "-cost")
    assert _ids(
        queries.calls(conn, queries.CallFilter(status="ok", limit=4), "-cost", cursor_at("-cost", first[-1]))
    ) == _ids(second)
    assert all(r.status == "ok" for r in second)
    costs = [r.cost_usd for r in first + second]
    assert costs == sorted(costs, key=lambda c: c if c is not None else Decimal(-1), reverse=True)


def test_cursor_text_round_trips_and_bad_text_is_refused() -> None:
    moment = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=timezone.utc)
    for sort, key in (
        ("-time", moment),
        ("cost", Decimal("0.0123400000")),
        ("-cost", Decimal(-1)),
        ("latency", 1234.5678901234),
        ("tokens", 4096),
    ):
        cursor = Cursor(key, moment, "00f067aa0ba902b7")
        assert parse_cursor(cursor.text, sort) == cursor
        assert parse_cursor(cursor.text, sort, before=True).before
    for text, sort in (("", "-time"), ("1,2", "-time"), ("x,1,ab", "-time"), ("NaN,1,ab", "cost"),
                       ("1.5,1,ab", "tokens"), ("1,1,", "-time"), ("9" * 30 + ",1,ab", "-time")):  # fmt: skip
        with pytest.raises(ValueError, match="page cursor"):
            parse_cursor(text, sort)


def test_count_calls_stops_at_its_bound(conn: psycopg.Connection[Any]) -> None:
    insert(conn, tied_calls())
    where = queries.CallFilter(status="ok")
    exact = queries.count_calls(conn, where)
    assert exact == 19
    assert queries.count_calls(conn, where, bound=100) == exact
    assert queries.count_calls(conn, where, bound=19) == 19
    assert queries.count_calls(conn, where, bound=5) == 6  # over the bound: "more than 5"


@pytest.mark.parametrize(
    ("stored", "value", "matches"),
    [
        ("co_7", "co_7", True),
        ("co_7", "co_8", False),
        (42, "42", True),
        (42.5, "42.5", True),
        (5, "5.0", False),  # ->> gives "5"
        (True, "true", True),
        ("true", "true", True),
        (["a", "b"], '["a", "b"]', True),
        (["a", "b"], '["a"]', False),  # contained, but not the same text
        ("{not json", "{not json", True),
        (None, "null", False),
    ],
)
def test_attribute_filter_matches_the_text_of_any_stored_value(
    conn: psycopg.Connection[Any], stored: Any, value: str, matches: bool
) -> None:
    call = Call(NOW, attributes={"tokentrail.app.key": stored})
    insert(conn, [call, Call(NOW, attributes={"tokentrail.app.other": value})])
    text = conn.execute(
        "SELECT attributes ->> 'tokentrail.app.key' FROM llm_calls WHERE span_id = %s", (call.span_id,)
    ).fetchone()
    assert text is not None
    assert (text[0] == value) is matches  # the stored value's text, as SQL gives it
    rows = queries.calls(conn, queries.CallFilter(attrs=(("key", value),)))
    assert _ids(rows) == ([call.span_id] if matches else [])
