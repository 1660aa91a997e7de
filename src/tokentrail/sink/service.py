"""The running service: the listening socket, uvicorn serving the HTTP app and, when configured, the gRPC server,
one pipeline behind both; a graceful drain on SIGINT/SIGTERM (or when asked to stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable

from tokentrail.sink.config import SinkConfig
from tokentrail.sink.grpc import grpc_server as make_grpc_server
from tokentrail.sink.http import TRACES_PATH, build_app
from tokentrail.sink.pipeline import Sink

__all__ = ["bind", "serve"]

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on `host:port` (0: any free port)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the listening socket says TCP
    # (else Nagle holds a small answer's body behind its head for a delayed ACK, ~40 ms per answer).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    config: SinkConfig,
    *,
    sock: socket.socket | None = None,
    on_started: Callable[[int, int | None], Awaitable[None] | None] | None = None,
    should_exit: threading.Event | None = None,
) -> None:
    """Run the sink until SIGINT/SIGTERM (or `should_exit`): drain in-flight requests, then close the pool."""
    import uvicorn

    sink = Sink(config)
    app = build_app(sink)
    uv_config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(config.drain_timeout),
        server_header=False,
    )
    server = uvicorn.Server(uv_config)
    sock = sock or bind(config.host, config.port)
    http_port = int(sock.getsockname()[1])
    grpc_server = None
    grpc_port: int | None = None
    if config.grpc_port is not None:
        grpc_server, grpc_port = make_grpc_server(sink, config.grpc_port)

    async def watch() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.01)
        if grpc_server is not None:
            await grpc_server.start()
        log.warning(
            "tokentrail sink listening on http://%s:%d%s%s",
            config.host,
            http_port,
            TRACES_PATH,
            f" and grpc {config.host}:{grpc_port}" if grpc_port else "",
        )
        if on_started is not None:
            maybe = on_started(http_port, grpc_port)
            if maybe is not None:
                await maybe
        while should_exit is not None and not server.should_exit:
            if should_exit.is_set():
                server.should_exit = True
                break
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        await server.serve(sockets=[sock])
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if grpc_server is not None:
            await grpc_server.stop(config.drain_timeout)
