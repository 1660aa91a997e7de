"""The UI's fixtures: the real server over a throwaway database, and a real Chromium driven by Playwright.

- `conn`: an autocommit (writable) connection to the test's fresh database, for seeding with tests.fixtures.rows
- `ui_settings` / `ui_server`: the UI served by uvicorn in a thread on a free port over that database
  (`ui_server.url` is its base URL); seed before the first request or after, both work
- `browser` / `page` (per test): Chromium from /usr/bin/chromium (`make test` installs it; missing is a
  failure, never a skip); `page` records console messages, page errors, dialogs and every request's URL
- `screenshot(page, name)`: saves docs/images/ui-<name>.png for docs/ui.md
- `sample`: tests.fixtures.uidata's varied calls (models, users, errors, prompt versions, a trace, hostile content)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tokentrail.ui.main import RunningUi, start
from tokentrail.ui.settings import UiSettings

CHROMIUM = Path(os.environ.get("TOKENTRAIL_TEST_CHROMIUM", "/usr/bin/chromium"))
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def ui_settings(database_url: str) -> UiSettings:
    return UiSettings(database_url=database_url, port=0, refresh_seconds=0)


@pytest.fixture
def ui_server(ui_settings: UiSettings) -> Iterator[RunningUi]:
    running = start(ui_settings)
    yield running
    running.stop()


# Per test, not per session: while Playwright's sync API is open, the main thread has a running event loop,
# which would break every asyncio test that runs after it.
@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@dataclass
class PageLog:
    """What a page did besides rendering: console lines, uncaught errors, dialogs, requested URLs."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Any, page_log: PageLog) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.on("console", lambda message: page_log.console.append(f"{message.type}: {message.text}"))
    tab.on("pageerror", lambda error: page_log.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        page_log.dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.on("request", lambda request: page_log.requests.append(request.url))
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def save(tab: Any, name: str) -> Path:
        IMAGES.mkdir(parents=True, exist_ok=True)
        path = IMAGES / f"ui-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def sample(conn: psycopg.Connection[Any]) -> Any:
    """tests.fixtures.uidata's varied calls, stored in the test's database."""
    from tests.fixtures.uidata import seed

    return seed(conn)
