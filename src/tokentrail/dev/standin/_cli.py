"""`python -m tokentrail.dev.standin` / `tokentrail standin`: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokentrail standin", description="Serve a local stand-in for the Anthropic Messages API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay before every response's first byte (default: 0)"
    )
    parser.add_argument(
        "--batch-processing-ms",
        type=float,
        default=0.0,
        help="how long a new message batch stays in progress (default: 0)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the stand-in, print `listening on http://HOST:PORT`, and serve until SIGTERM or SIGINT."""
    from tokentrail.dev.standin._server import StandinServer

    args = _parser().parse_args(argv)
    if args.latency_ms < 0 or args.batch_processing_ms < 0:
        print("tokentrail standin: --latency-ms and --batch-processing-ms must not be negative", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may install handlers
    signals = (signal.SIGTERM, signal.SIGINT) if in_main_thread else ()
    previous = {sig: signal.signal(sig, _on_signal) for sig in signals}
    try:
        server = StandinServer(
            args.host, args.port, latency_s=args.latency_ms / 1000, batch_processing_s=args.batch_processing_ms / 1000
        )
        try:
            server.start()
        except OSError as exc:
            print(f"tokentrail standin: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        try:
            print(f"listening on {server.base_url}", flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
