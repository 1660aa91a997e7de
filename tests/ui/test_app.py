"""The application against a real server and database: security headers, error pages, the token, read-only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.ui.app import COOKIE, CSP
from tokentrail.ui.db import open_pool
from tokentrail.ui.main import start
from tokentrail.ui.settings import UiSettings

pytestmark = pytest.mark.postgres


def test_every_response_carries_the_security_headers(ui_server: Any) -> None:
    for path in ("/", "/static/ui.css", "/no-such-page", "/?range=nope"):
        response = httpx.get(ui_server.url + path)
        assert response.headers["content-security-policy"] == CSP, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in CSP
    assert "script-src 'self'" in CSP


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("range=2y", "range"),
        ("since=yesterday-ish", "since"),
        ("since=2d&until=3d", "until"),
        ("status=maybe", "status"),
        ("min_cost=lots", "min_cost"),
        ("attr=nocolon", "attr"),
    ],
)
def test_a_bad_parameter_is_a_400_page_naming_it(ui_server: Any, query: str, names: str) -> None:
    response = httpx.get(f"{ui_server.url}/?{query}")
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert f"{names}:" in response.text
    assert "Traceback" not in response.text


def test_the_overview_shows_the_stored_totals(ui_server: Any, conn: psycopg.Connection[Any]) -> None:
    now = datetime.now(timezone.utc)
    insert(conn, [Call(now - timedelta(minutes=5), cost=None), Call(now - timedelta(minutes=3), status="error")])
    response = httpx.get(ui_server.url + "/?range=1h")
    assert response.status_code == 200
    assert 'id="total-calls">2<' in response.text
    assert 'id="total-error-rate">50.0%<' in response.text


def test_the_database_session_is_read_only(database_url: str) -> None:
    pool = open_pool(database_url)
    try:
        with pool.connection() as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
            # a query run again and again keeps being planned for its own time range (no generic plan)
            assert conn.execute("SHOW plan_cache_mode").fetchone() == ("force_custom_plan",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("DELETE FROM llm_calls")
    finally:
        pool.close()


def test_with_a_token_every_request_needs_it(database_url: str) -> None:
    running = start(UiSettings(database_url=database_url, port=0, token="s3cret-token"))
    try:
        assert httpx.get(running.url + "/").status_code == 401
        assert httpx.get(running.url + "/static/ui.css").status_code == 401
        assert httpx.get(running.url + "/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(running.url + "/?token=wrong").status_code == 401
        assert httpx.get(running.url + "/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        redirect = httpx.get(running.url + "/calls?token=s3cret-token&status=ok")
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/calls?status=ok"
        cookie = redirect.headers["set-cookie"]
        assert f"{COOKIE}=s3cret-token" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert httpx.get(running.url + "/", cookies={COOKIE: "s3cret-token"}).status_code == 200
    finally:
        running.stop()


def test_a_database_that_is_away_is_a_503_page() -> None:
    running = start(UiSettings(database_url="postgresql://nobody@127.0.0.1:1/none", port=0))
    try:
        running.server.config.app  # noqa: B018 - the app is built; the pool fails on use
        response = httpx.get(running.url + "/", timeout=30)
        assert response.status_code == 503
        assert "Database unavailable" in response.text
    finally:
        running.stop()


def test_a_database_without_the_schema_is_a_503_naming_the_fix(pg_cluster: Any) -> None:
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_cluster.create_database(name)
    running = start(UiSettings(database_url=url, port=0))
    try:
        response = httpx.get(running.url + "/calls", timeout=30)
        assert response.status_code == 503
        assert "tokentrail db upgrade" in response.text
        assert response.headers["content-security-policy"] == CSP
    finally:
        running.stop()
        pg_cluster.drop_database(name)
