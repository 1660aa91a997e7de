"""The browser fixtures work: the system Chromium opens the UI, and nothing leaves for another origin."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.postgres


def test_chromium_renders_the_ui(ui_server: Any, page: Any, page_log: Any) -> None:
    page.goto(ui_server.url + "/")
    assert page.title() == "Overview · tokentrail"
    assert page.locator("nav a.active").inner_text() == "Overview"
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # the stylesheet loaded under the CSP
    assert all(url.startswith(ui_server.url) for url in page_log.requests)
    assert page_log.errors == []


def test_the_range_picker_keeps_the_filters(database_url: str, sample: Any, page: Any) -> None:
    from tokentrail.ui.main import start
    from tokentrail.ui.settings import UiSettings

    running = start(UiSettings(database_url=database_url, port=0, refresh_seconds=600))
    try:
        page.goto(running.url + "/?range=1h&model=claude-haiku-4-5")
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        page.click(".range > a:has-text('7d')")
        page.wait_for_url("**range=7d**")
        assert "model=claude-haiku-4-5" in page.url
        page.fill(".custom-range input[name=since]", "2h")
        page.click(".custom-range button")
        page.wait_for_url("**since=2h**")
        assert "model=claude-haiku-4-5" in page.url
        assert page.locator('meta[http-equiv="refresh"]').count() == 0  # a custom range never reloads
        assert page.locator(".range > a.active").count() == 0
        page.click("nav a:has-text('Calls')")
        page.wait_for_url("**/calls?**since=2h**")
        assert page.locator("tr.call").count() == int(page.locator("#call-count").inner_text().split()[0])
        assert set(page.locator("tr.call td:nth-child(2)").all_inner_texts()) == {"claude-haiku-4-5"}
    finally:
        running.stop()
