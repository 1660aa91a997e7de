"""The overview over a real server and database, in httpx and in Chromium; figures checked against SQL."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tokentrail.ui.render import money

pytestmark = pytest.mark.postgres


def _sql_totals(conn: psycopg.Connection[Any]) -> tuple[int, Any, int]:
    row = conn.execute(
        "SELECT count(*), sum(cost_usd), count(*) FILTER (WHERE status = 'error') FROM llm_calls"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_overview_figures_match_sql(ui_server: Any, sample: Any, conn: psycopg.Connection[Any]) -> None:
    calls, cost, errors = _sql_totals(conn)
    html = httpx.get(ui_server.url + "/?range=24h").text
    assert f'id="total-calls">{calls}<' in html
    assert f'id="total-cost">{money(cost)}<' in html
    assert f'id="total-error-rate">{errors / calls * 100:.1f}%<' in html
    for section in ("cost-over-time", "calls-over-time", "errors-over-time", "top-users", "top-apps"):
        assert f'id="{section}"><figure' in html, section
    assert "claude-haiku-4-5" in html


@pytest.mark.parametrize("by", ["user", "service", "prompt-version", "workflow", "call-type", "tag", "attr:company_id"])
def test_cost_can_be_grouped_every_way(ui_server: Any, sample: Any, by: str) -> None:
    response = httpx.get(ui_server.url + "/", params={"by": by})
    assert response.status_code == 200
    assert f"Cost over time by {by}" in response.text


def test_an_unknown_grouping_is_a_400(ui_server: Any) -> None:
    response = httpx.get(ui_server.url + "/", params={"by": "day"})
    assert response.status_code == 400
    assert "by:" in response.text


def test_refresh_only_over_a_moving_range(database_url: str, sample: Any) -> None:
    from tokentrail.ui.main import start
    from tokentrail.ui.settings import UiSettings

    running = start(UiSettings(database_url=database_url, port=0, refresh_seconds=15))
    try:
        assert '<meta http-equiv="refresh" content="15">' in httpx.get(running.url + "/?range=1h").text
        assert 'http-equiv="refresh"' not in httpx.get(running.url + "/?since=2h&until=1h").text
    finally:
        running.stop()


def test_overview_in_the_browser(
    ui_server: Any, sample: Any, conn: psycopg.Connection[Any], page: Any, page_log: Any, screenshot: Any
) -> None:
    calls, cost, _ = _sql_totals(conn)
    page.goto(ui_server.url + "/?range=1h")
    assert page.locator("#total-calls").inner_text() == str(calls)
    assert page.locator("#total-cost").inner_text() == money(cost)
    assert page.locator("#cost-over-time svg rect.bar").count() > 0
    page.get_by_role("link", name="user", exact=True).click()
    page.wait_for_url("**by=user**")
    assert "Cost over time by user" in page.locator("#cost-over-time figcaption").inner_text()
    page.get_by_role("link", name="model", exact=True).click()
    screenshot(page, "overview")
    page.locator("#latency-by-model a", has_text="claude-haiku-4-5").click()
    page.wait_for_url("**/calls?**model=claude-haiku-4-5**")
    assert page_log.errors == []
    assert all(url.startswith(ui_server.url) for url in page_log.requests)
