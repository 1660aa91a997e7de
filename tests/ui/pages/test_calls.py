"""The calls page and its exports over a real server and database, in httpx and in Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.uidata import HOSTILE

pytestmark = pytest.mark.postgres


def _count(conn: psycopg.Connection[Any], where: str = "true", *args: Any) -> int:
    row = conn.execute(f"SELECT count(*) FROM llm_calls WHERE {where}", args).fetchone()
    assert row is not None
    return int(row[0])


def test_filters_select_the_same_rows_as_sql(ui_server: Any, sample: Any, conn: psycopg.Connection[Any]) -> None:
    cases = [
        ({}, "true", ()),
        ({"status": "error"}, "status = 'error'", ()),
        ({"model": "claude-haiku-4-5"}, "request_model = %s", ("claude-haiku-4-5",)),
        ({"user": "user_1", "status": "ok"}, "user_id = %s AND status = 'ok'", ("user_1",)),
        ({"prompt": "support-answer@v1"}, "prompt_name = 'support-answer' AND prompt_version = 'v1'", ()),
        ({"attr": "company_id:company_2"}, "attributes->>'tokentrail.app.company_id' = 'company_2'", ()),
        ({"min_latency": "2s"}, "duration_ms >= 2000", ()),
        ({"error_type": "rate_limit_error"}, "error_type = 'rate_limit_error'", ()),
        ({"search": "refund"}, "input_sha256 IS NOT NULL AND trace_id = %s", (sample.trace_id,)),
        ({"trace_id": sample.trace_id}, "trace_id = %s", (sample.trace_id,)),
    ]
    for query, where, args in cases:
        html = httpx.get(ui_server.url + "/calls", params={"range": "24h", "size": "250", **query}).text
        expected = _count(conn, where, *args)
        assert f'id="call-count">{expected} calls<' in html, query
        assert html.count('<tr class="call"') == expected, query


def test_sorting_and_paging(ui_server: Any, sample: Any, conn: psycopg.Connection[Any]) -> None:
    html = httpx.get(ui_server.url + "/calls", params={"sort": "-cost", "size": "25"}).text
    top = conn.execute(
        "SELECT span_id FROM llm_calls ORDER BY cost_usd DESC, start_time DESC, span_id LIMIT 1"
    ).fetchone()
    assert top is not None
    assert html.index(f'data-span="{top[0]}"') < html.index('data-span="', html.index("<tbody>") + 1) + 40
    total = _count(conn)
    assert f"page 1 of {(total + 24) // 25}" in html
    second = httpx.get(ui_server.url + "/calls", params={"sort": "-cost", "size": "25", "page": "2"}).text
    assert second.count('<tr class="call"') == total - 25
    assert f'data-span="{top[0]}"' not in second


def _spans(html: str) -> list[str]:
    return re.findall(r'<tr class="call" data-span="([0-9a-f]+)"', html)


def _link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


@pytest.mark.parametrize("sort", ["-time", "cost", "-latency", "tokens"])
def test_next_and_previous_links_page_by_cursor_through_every_row(
    ui_server: Any, sample: Any, conn: psycopg.Connection[Any], sort: str
) -> None:
    order = {"-time": "start_time DESC", "cost": "coalesce(cost_usd, -1)", "-latency": "duration_ms DESC",
             "tokens": "coalesce(input_tokens, 0) + coalesce(output_tokens, 0)"}[sort]  # fmt: skip
    expected = [r[0] for r in conn.execute(f"SELECT span_id FROM llm_calls ORDER BY {order}, start_time DESC, span_id")]
    base = ui_server.url + "/calls"
    pages, html = [], httpx.get(base, params={"range": "24h", "size": "7", "sort": sort}).text
    while True:
        pages.append(_spans(html))
        assert f"page {len(pages)} of {(len(expected) + 6) // 7}" in html
        following = _link(html, "next")
        if following is None:
            break
        assert "after=" in following
        assert "range=24h" in following
        html = httpx.get(base + following).text
    assert [span for page in pages for span in page] == expected  # none skipped, none repeated
    assert _spans(httpx.get(base, params={"range": "24h", "size": "7", "sort": sort, "page": "3"}).text) == pages[2]
    for number in range(len(pages), 1, -1):  # and back, by the previous links
        back = _link(html, "prev")
        assert back is not None
        html = httpx.get(base + back).text
        assert _spans(html) == pages[number - 2]
        assert f"page {number - 1} of" in html
    assert _link(html, "prev") is None
    assert "before=" not in (_link(html, "next") or "")


def test_a_count_over_the_bound_says_more_than(ui_server: Any, conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT tokentrail_ensure_partitions((now() AT TIME ZONE 'UTC')::date)")
    conn.execute("SELECT tokentrail_ensure_partitions(((now() - interval '1 day') AT TIME ZONE 'UTC')::date)")
    conn.execute(
        """INSERT INTO llm_calls (trace_id, span_id, start_time, duration_ms, source, operation, status,
                                  request_model)
           SELECT md5(i::text), lpad(to_hex(i), 16, '0'), now() - i * interval '1 second', i, 'test', 'chat', 'ok',
                  'claude-haiku-4-5'
           FROM generate_series(1, 10001) AS i"""
    )
    html = httpx.get(ui_server.url + "/calls", params={"range": "24h", "size": "100"}).text
    assert 'id="call-count">more than 10,000 calls<' in html
    assert 'id="page-of">page 1<' in html
    assert _spans(html) == [f"{i:016x}" for i in range(1, 101)]
    following = _link(html, "next")
    assert following is not None
    second = httpx.get(ui_server.url + "/calls" + following).text
    assert _spans(second) == [f"{i:016x}" for i in range(101, 201)]
    assert 'id="page-of">page 2<' in second
    narrow = httpx.get(ui_server.url + "/calls", params={"range": "24h", "min_latency": "9990ms"}).text
    assert 'id="call-count">12 calls<' in narrow  # exact again under the bound


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"size": "5000"}, "size"),
        ({"sort": "name"}, "sort"),
        ({"page": "-1"}, "page"),
        ({"trace_id": "zz"}, "trace_id"),
        ({"after": "yesterday"}, "after"),
        ({"sort": "tokens", "after": "1.5,0,abc"}, "after"),
        ({"before": "1,2"}, "before"),
        ({"after": "1,1,a", "before": "1,1,a"}, "before"),
    ],
)
def test_bad_parameters_are_400(ui_server: Any, query: dict[str, str], name: str) -> None:
    response = httpx.get(ui_server.url + "/calls", params=query)
    assert response.status_code == 400
    assert f"{name}:" in response.text


def test_csv_and_jsonl_exports_stream_the_filtered_rows(
    ui_server: Any, sample: Any, conn: psycopg.Connection[Any]
) -> None:
    expected = _count(conn, "status = 'error'")
    response = httpx.get(ui_server.url + "/calls/export.csv", params={"status": "error"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == expected
    assert {row["status"] for row in rows} == {"error"}
    lines = httpx.get(ui_server.url + "/calls/export.jsonl", params={"status": "error"}).text.splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["error"] * expected
    with_content = httpx.get(
        ui_server.url + "/calls/export.jsonl", params={"trace_id": sample.hostile_trace_id, "content": "yes"}
    ).text
    (record,) = [json.loads(line) for line in with_content.splitlines()]
    assert record["content_output"][0]["parts"][0]["content"] == HOSTILE
    assert httpx.get(ui_server.url + "/calls/export.xlsx").status_code == 400


def test_a_csv_cell_that_looks_like_a_formula_is_quoted(ui_server: Any, conn: psycopg.Connection[Any]) -> None:
    from datetime import datetime, timezone

    from tests.fixtures.rows import Call, insert

    insert(conn, [Call(datetime.now(timezone.utc), user='=HYPERLINK("http://x")')])
    (row,) = csv.DictReader(io.StringIO(httpx.get(ui_server.url + "/calls/export.csv").text))
    assert row["user_id"] == '\'=HYPERLINK("http://x")'


def test_calls_in_the_browser(
    ui_server: Any, sample: Any, conn: psycopg.Connection[Any], page: Any, page_log: Any, screenshot: Any, tmp_path: Any
) -> None:
    page.goto(ui_server.url + "/calls?range=24h")
    assert page.locator("tr.call").count() == min(_count(conn), 50)
    page.fill("input[name=model]", "claude-opus-4-1")
    page.select_option("select[name=status]", "ok")
    page.click("#call-filters button[type=submit]")
    page.wait_for_url("**model=claude-opus-4-1**")
    expected = _count(conn, "request_model = 'claude-opus-4-1' AND status = 'ok'")
    assert page.locator("#call-count").inner_text() == f"{expected} calls"
    assert page.locator("tr.call").count() == expected
    assert "range=24h" in page.url  # the range survived the filter form
    page.click("th a:has-text('Cost')")
    page.wait_for_url("**sort=-cost**")
    costs = [float(c.replace("$", "")) for c in page.locator("tr.call td.cost").all_inner_texts()]
    assert costs == sorted(costs, reverse=True)
    screenshot(page, "calls")
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = tmp_path / "calls.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == expected
    assert {row["request_model"] for row in rows} == {"claude-opus-4-1"}
    assert page_log.errors == []
