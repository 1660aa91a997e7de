"""The UI's Starlette application: the routes, the security headers, the token check and the error pages.

Every response carries a strict Content-Security-Policy (nothing but this origin's CSS and script, no frames,
no forms elsewhere), `nosniff` and `no-referrer`. With a token configured every request must present it: an
`Authorization: Bearer` header, the cookie, or `?token=` (which sets the HttpOnly SameSite=Strict cookie and
redirects to the same URL without it). A bad query parameter is a 400 page, a database that is away a 503, and
anything else a plain 500 page: never a stack trace.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokentrail.ui.params import BadParameter
from tokentrail.ui.render import STATIC_DIR, page
from tokentrail.ui.settings import UiSettings

__all__ = ["COOKIE", "SECURITY_HEADERS", "create_app"]

logger = logging.getLogger(__name__)

COOKIE: Final = "tokentrail_ui_token"
QUERY_WORKERS: Final = 4
"""Queries of one page that run side by side (`pages.common.reads`), across all requests: fewer than the pool's
connections, so that pages reading on the request's own connection still get one."""
CSP: Final = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenCheck:
    """Lets a request through only with the token (header, cookie, or `?token=` which sets the cookie)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        if self._matches(bearer) or self._matches(request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._matches(request.query_params.get("token")):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self.token.decode(), httponly=True, samesite="strict", path="/")
        else:
            response = Response(
                "401: this tokentrail UI needs its token (Authorization: Bearer TOKEN, or open a link with ?token=)\n",
                status_code=401,
                media_type="text/plain",
                headers={"www-authenticate": 'Bearer realm="tokentrail"'},
            )
        await response(scope, receive, send)


def _error(request: Request, status: int, title: str, message: str) -> Response:
    response = page(request, "error.html", status_code=status, title=title, message=message)
    response.headers.update(SECURITY_HEADERS)  # the 500 handler runs outside the middleware
    return response


async def _bad_parameter(request: Request, exc: Exception) -> Response:
    return _error(request, 400, "Bad request", str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return _error(request, exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    import psycopg
    import psycopg_pool

    if isinstance(exc, psycopg.errors.UndefinedTable):
        logger.warning("no tokentrail schema: %s", exc)
        return _error(
            request, 503, "No tokentrail schema", "the database has no tokentrail tables: run `tokentrail db upgrade`"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled):
        logger.warning("query cancelled: %s", exc)
        return _error(request, 503, "Query too slow", "the query took too long; narrow the time range or the filter")
    if isinstance(exc, (psycopg.OperationalError, psycopg_pool.PoolTimeout)):
        logger.warning("database unavailable: %s", exc)
        return _error(request, 503, "Database unavailable", "the database did not answer; try again shortly")
    logger.exception("UI request failed")
    return _error(request, 500, "Internal error", "this page failed; the server log has the details")


def _warm_prices() -> None:
    try:
        from tokentrail.pricing import default_pricebook

        default_pricebook().warm()
    except Exception:  # the page that needs prices reports its own failure
        logger.debug("tokentrail ui: could not load the price data ahead", exc_info=True)


def _query_workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=QUERY_WORKERS, thread_name_prefix="tokentrail-ui-query")


def create_app(
    settings: UiSettings,
    pool: Any = None,
    routes: list[BaseRoute] | None = None,
) -> Starlette:
    """The UI over `settings.database_url` (or over `pool`, a `psycopg_pool.ConnectionPool` the caller owns).

    Without a pool one is opened at startup and closed at shutdown (`tokentrail.ui.db.open_pool`).
    """
    from tokentrail.ui.pages import ROUTES

    own_pool = pool is None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_pool:
            from tokentrail.ui.db import open_pool

            app.state.pool = open_pool(settings.database_url)
        app.state.reads = _query_workers()
        # The call panel prices its cost breakdown: load the price data now, not on the first request.
        threading.Thread(target=_warm_prices, name="tokentrail-ui-prices", daemon=True).start()
        try:
            yield
        finally:
            app.state.reads.shutdown(wait=True, cancel_futures=True)
            if own_pool:
                app.state.pool.close()

    app = Starlette(
        routes=[*(routes if routes is not None else ROUTES), Mount("/static", StaticFiles(directory=STATIC_DIR))],
        exception_handlers={
            BadParameter: _bad_parameter,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.reads = _query_workers()  # replaced at each startup: a shut-down executor takes no work
    if pool is not None:
        app.state.pool = pool
    middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = []
    if settings.token:
        middleware.append((TokenCheck, {"token": settings.token}))
    middleware.append((SecurityHeaders, {}))
    for factory, options in middleware:  # the last added runs first
        app.add_middleware(factory, **options)
    return app
