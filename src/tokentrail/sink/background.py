"""`BackgroundSink`: a whole sink service running in a background thread of this process, for tests, benchmarks
and the demo; `start()` returns once it listens and gives its base URL.
"""

from __future__ import annotations

import asyncio
import threading

from tokentrail.sink.config import SinkConfig
from tokentrail.sink.http import TRACES_PATH
from tokentrail.sink.service import bind, serve

__all__ = ["BackgroundSink"]


class BackgroundSink:
    """A sink running in a background thread (tests, benchmarks, the demo): `start()` returns the base URL."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.port: int | None = None
        self.grpc_port: int | None = None
        self._exit = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sink is not started")
        return f"http://{self.config.host}:{self.port}"

    @property
    def traces_url(self) -> str:
        return self.url + TRACES_PATH

    def start(self, timeout: float = 30.0) -> str:
        sock = bind(self.config.host, self.config.port)

        def on_started(http_port: int, grpc_port: int | None) -> None:
            self.port, self.grpc_port = http_port, grpc_port
            self._started.set()

        def run() -> None:
            try:
                asyncio.run(serve(self.config, sock=sock, on_started=on_started, should_exit=self._exit))
            except BaseException as exc:
                self._error = exc
                self._started.set()
                raise

        self._thread = threading.Thread(target=run, name="tokentrail-sink", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error is not None:
            self.stop()
            raise RuntimeError(f"the sink did not start: {self._error!r}")
        return self.url

    def stop(self, timeout: float = 60.0) -> None:
        self._exit.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> BackgroundSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
