"""The failures page over a real server and database: groups and counts checked against SQL."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.postgres


def test_failures_group_by_error_type_with_models_and_latest_calls(
    ui_server: Any, sample: Any, conn: psycopg.Connection[Any]
) -> None:
    expected = dict(
        conn.execute("SELECT error_type, count(*) FROM llm_calls WHERE status = 'error' GROUP BY 1").fetchall()
    )
    assert len(expected) == 2
    html = httpx.get(ui_server.url + "/failures", params={"range": "24h"}).text
    assert f'id="failed-calls">{sum(expected.values())}<' in html
    for error_type, count in expected.items():
        start = html.index(f'data-error-type="{error_type}"')
        section = html[start : html.index("</section>", start)]
        assert f'<span class="group-count">{count}</span>' in section
        assert section.count('<tr class="call">') == min(count, 5)
        assert "Rate limited, retry later" in section
    assert 'id="errors-by-type"><figure' in html
    assert 'id="errors-by-model"><figure' in html


def test_no_failures_says_so(ui_server: Any) -> None:
    html = httpx.get(ui_server.url + "/failures").text
    assert 'id="no-failures"' in html


def test_failures_in_the_browser(ui_server: Any, sample: Any, page: Any, page_log: Any, screenshot: Any) -> None:
    page.goto(ui_server.url + "/failures?range=1h")
    assert page.locator("section.error-group").count() == 2
    assert page.locator("#errors-by-type svg rect.bar").count() > 0
    screenshot(page, "failures")
    page.locator("section.error-group h3 a", has_text="rate_limit_error").click()
    page.wait_for_url("**/calls?**error_type=rate_limit_error**")
    assert page.locator("tr.call").count() == int(page.locator("#call-count").inner_text().split()[0])
    assert page_log.errors == []
