"""Serve the answer service: `python -m examples.fastapi_app [--host 127.0.0.1] [--port 8000]`.

Run it under `opentelemetry-instrument` to trace it. `--port 0` picks a free port; the first line printed is
`listening on http://HOST:PORT` either way, so scripts can start it on an ephemeral port and read where it is.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn

from examples.fastapi_app.app import app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.fastapi_app", description="Serve the answer service.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    # Bind first so the real port is known before serving (uvicorn would report port 0 as-is).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False))
    server.run(sockets=[sock])  # returns after SIGINT/SIGTERM, once in-flight requests are done
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
