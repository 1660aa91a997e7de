"""The prompt-versions page over a real server and database: the A/B table checked against SQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg
import pytest

from tokentrail.reports.rollupstats import MAX_RELATIVE_ERROR
from tokentrail.ui.render import money

pytestmark = pytest.mark.postgres


def _read_ms(text: str) -> float:
    """A duration as `ui.render.ms` shows it (`850 ms`, `2.35 s`), in milliseconds."""
    number, unit = text.replace(",", "").split()
    return float(number) * (1000 if unit == "s" else 1)


def test_versions_side_by_side(ui_server: Any, sample: Any, conn: psycopg.Connection[Any]) -> None:
    html = httpx.get(ui_server.url + "/prompts", params={"range": "24h", "name": "support-answer"}).text
    rows = conn.execute(
        """SELECT prompt_version, count(*), avg(cost_usd),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
           FROM llm_calls WHERE prompt_name = 'support-answer' AND prompt_version IN ('v1', 'v2') GROUP BY 1"""
    ).fetchall()
    assert len(rows) == 2
    for version, calls, mean_cost, p50 in rows:
        start = html.index(f">{version}</a>")
        row = html[start : html.index("</tr>", start)]
        assert f'<td class="num">{calls}</td>' in row
        assert money(mean_cost) in row
        shown = re.findall(r'<td class="num">([^<]*)</td>', row)[2]  # calls, success rate, p50, ...
        assert _read_ms(shown) == pytest.approx(p50, rel=MAX_RELATIVE_ERROR + 0.005)  # the histogram's bound
    assert html.count('<figure class="chart-box">') == 5
    assert 'id="need-two"' not in html


def test_chosen_versions_only_and_the_two_version_note(ui_server: Any, sample: Any) -> None:
    html = httpx.get(ui_server.url + "/prompts", params={"name": "support-answer", "versions": "v2"}).text
    assert html.count('<tr class="version">') == 1
    assert 'id="need-two"' in html


def test_a_versioned_name_is_a_400(ui_server: Any) -> None:
    response = httpx.get(ui_server.url + "/prompts", params={"name": "support-answer@v1"})
    assert response.status_code == 400
    assert "name:" in response.text


def test_prompts_in_the_browser(ui_server: Any, sample: Any, page: Any, page_log: Any, screenshot: Any) -> None:
    page.goto(ui_server.url + "/prompts?range=1h")
    assert page.locator("#compared-prompt").inner_text() == "support-answer"  # the busiest prompt by default
    assert page.locator("#versions tr.version").count() >= 2
    screenshot(page, "prompts")
    page.locator("#versions a", has_text="v1").click()
    page.wait_for_url("**/calls?**prompt=support-answer%40v1**")
    assert page.locator("tr.call").count() > 0
    assert page_log.errors == []
