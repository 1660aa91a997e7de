"""Hostile content (markup in user ids, prompt versions, tags, app ids, message bodies) is shown as text on every
page in a real Chromium: no script runs, no dialog opens, nothing is requested from another origin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.uidata import HOSTILE, HOSTILE_LINK

pytestmark = pytest.mark.postgres

PAGES = (
    "/?range=1h",
    "/?range=1h&by=user",
    "/?range=1h&by=tag",
    "/?range=1h&by=prompt-version",
    "/calls?range=1h",
    "/calls?range=1h&search=script",
    "/failures?range=1h",
    "/prompts?range=1h&name=support-answer",
)


@pytest.mark.parametrize("path", PAGES)
def test_no_script_runs(ui_server: Any, sample: Any, page: Any, page_log: Any, path: str) -> None:
    page.goto(ui_server.url + path)
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None
    assert page_log.dialogs == []
    assert page_log.errors == []
    assert [url for url in page_log.requests if not url.startswith(ui_server.url)] == []
    assert page.locator("img").count() == 0  # the content's <img> stayed text
    assert page.locator("script").count() == 0
    assert page.locator(f'a[href^="{HOSTILE_LINK[:11]}"]').count() == 0  # no javascript: link


def test_the_hostile_text_is_visible_as_text(ui_server: Any, sample: Any, page: Any) -> None:
    page.goto(ui_server.url + "/calls?range=1h&search=pwned")
    row = page.locator("tr.call").first
    assert HOSTILE in row.inner_text()  # the user id, shown verbatim
    assert HOSTILE_LINK in row.inner_text()  # the session id, as text
    page.goto(ui_server.url + "/prompts?range=1h&name=support-answer")
    assert page.get_by_text(HOSTILE, exact=True).count() >= 1
