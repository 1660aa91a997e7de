"""`tokentrail sink` and `python -m tokentrail.sink`: the command line of the sink service.

    tokentrail sink [--host H] [--port P] [--grpc-port G] [--database-url URL]
    python -m tokentrail.sink ...

Reads the sink's settings (flags over `TOKENTRAIL_SINK_*`), starts the embedded Postgres when no database URL is
given, and serves until SIGINT/SIGTERM; 0 on a clean shutdown, 2 for bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from types import FrameType

from tokentrail.sink import settings as settings_module
from tokentrail.sink.config import SinkConfig
from tokentrail.sink.service import serve

__all__ = ["main"]

log = logging.getLogger(__name__)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokentrail sink",
        description="Receive OTLP traces and store every span (and every LLM call as a typed row) in Postgres.",
        epilog="The bearer token is read from TOKENTRAIL_SINK_TOKEN only (never from the command line).",
    )
    parser.add_argument("--host", help="address to listen on (TOKENTRAIL_SINK_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="OTLP/HTTP port (TOKENTRAIL_SINK_PORT, default 4318)")
    parser.add_argument("--grpc-port", type=int, help="also serve OTLP/gRPC on this port (TOKENTRAIL_SINK_GRPC_PORT)")
    parser.add_argument(
        "--database-url",
        help="Postgres URL (TOKENTRAIL_DATABASE_URL); without one, the embedded Postgres under TOKENTRAIL_DATA_DIR",
    )
    parser.add_argument("--max-body-bytes", type=_positive, help="request size limit after decompression")
    parser.add_argument("--max-inflight", type=_positive, help="export requests processed at once (default 8)")
    parser.add_argument("--pool-size", type=_positive, help="Postgres connections (default 4)")
    parser.add_argument(
        "--body-idle-timeout", type=_seconds, help="longest pause while a body arrives, else 408 (default 10)"
    )
    parser.add_argument("--body-timeout", type=_seconds, help="longest time to receive a body, else 408 (default 60)")
    parser.add_argument(
        "--receive-budget-bytes",
        type=_positive,
        help="bytes of bodies being received at once, else 503 (default max-inflight x max-body-bytes)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    parser.add_argument("--log-level", default="INFO", help="default INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`tokentrail sink`: run until interrupted; 0 on a clean shutdown, 2 for bad arguments or settings."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # one line per failed reconnect is our job
    try:
        settings = settings_module.load(
            database_url=args.database_url,
            sink_host=args.host,
            sink_port=args.port,
            sink_grpc_port=args.grpc_port,
            sink_max_body_bytes=args.max_body_bytes,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    embedded = None
    database_url = settings.database_url
    if database_url is None:
        from tokentrail.db.embedded import EmbeddedPostgres, EmbeddedPostgresError

        embedded = EmbeddedPostgres(settings.data_dir)
        try:
            database_url = embedded.start()
        except EmbeddedPostgresError as exc:
            log.error("%s", exc)
            return 2
        log.info("using the embedded Postgres at %s", database_url)
    config = SinkConfig.from_settings(
        settings,
        database_url,
        max_inflight=args.max_inflight,
        pool_size=args.pool_size,
        body_idle_timeout=args.body_idle_timeout,
        body_timeout=args.body_timeout,
        receive_budget_bytes=args.receive_budget_bytes,
        migrate=False if args.no_migrate else None,
    )
    # uvicorn drains on SIGINT/SIGTERM, then re-raises the signal: turn that into a clean exit so that the
    # embedded cluster (if any) is stopped too.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        asyncio.run(serve(config))
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if embedded is not None:
            embedded.stop()
    return 0


class _Terminated(Exception):
    pass


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


if __name__ == "__main__":
    raise SystemExit(main())
