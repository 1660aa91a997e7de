from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tokentrail.dev.demo._stack import JAEGER_PLACEHOLDER, jaeger_serves_ui


def _serve(body: str) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def placeholder() -> Iterator[str]:
    yield from _serve(f"<html><body>{JAEGER_PLACEHOLDER}</body></html>")


@pytest.fixture
def real_ui() -> Iterator[str]:
    yield from _serve('<html><head><title>Jaeger UI</title></head><body><div id="jaeger-ui-root"></div></body></html>')


def test_the_placeholder_page_is_not_the_ui(placeholder: str, real_ui: str) -> None:
    assert not jaeger_serves_ui(placeholder)
    assert jaeger_serves_ui(real_ui)
    assert not jaeger_serves_ui("http://127.0.0.1:1")  # nothing listening
