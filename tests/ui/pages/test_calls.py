"""The calls page and its exports over a real server and database, in httpx and in Chromium."""

from __future__ import annotations

import csv
import io
import json
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


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"size": "5000"}, "size"),
        ({"sort": "name"}, "sort"),
        ({"page": "-1"}, "page"),
        ({"trace_id": "zz"}, "trace_id"),
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
