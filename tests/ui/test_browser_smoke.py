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
