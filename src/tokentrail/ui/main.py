"""The UI server: `serve()` runs it in the foreground (`tokentrail ui`), `start()` in a background thread (the
demo and the tests), both on uvicorn."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from tokentrail.ui.app import create_app
from tokentrail.ui.settings import UiSettings

__all__ = ["RunningUi", "serve", "start"]


def _config(settings: UiSettings, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        lifespan="on",
    )


def serve(settings: UiSettings) -> None:
    """Serve the UI until interrupted."""
    uvicorn.Server(_config(settings, "info")).run()


@dataclass
class RunningUi:
    """A UI served from a background thread; `url` is its base URL (the real port when 0 was asked)."""

    server: Any
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start(settings: UiSettings, *, timeout: float = 20.0, log_level: str = "warning") -> RunningUi:
    """Start the UI in a daemon thread and wait until it accepts connections."""
    server = uvicorn.Server(_config(settings, log_level))
    thread = threading.Thread(target=server.run, name="tokentrail-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the UI did not start on {settings.host}:{settings.port}")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return RunningUi(server, thread, f"http://{host}:{port}")
