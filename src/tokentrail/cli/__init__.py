"""The `tokentrail` command: run the sink, stand-in, demo and web UI; migrate the database; report on stored calls.

Every database command takes `--database-url`, defaulting to `TOKENTRAIL_DATABASE_URL`, then to the embedded
cluster when it is running. Exit codes: 0 success, 1 a runtime failure (database unreachable, query failed),
2 bad arguments or missing configuration. Errors are one line on stderr, never a traceback.

This module only parses arguments and dispatches: the queries and their rendering are `tokentrail.reports`,
retention and migrations `tokentrail.db`. Heavy modules (psycopg, the sink, the stand-in) are imported inside the
command that needs them, so `tokentrail --help` stays instant. The options the report commands share (argument
types, the filters and their `CallFilter`) are `tokentrail.cli.options`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

from tokentrail.cli.options import (
    DEFAULT_LIMIT,
    GROUPING,
    LIMIT,
    MOMENT,
    OFFSET,
    RETENTION,
    TRACE_ID,
    Parser,
    call_filter,
    filter_options,
)
from tokentrail.errors import CommandError
from tokentrail.reports import render
from tokentrail.reports.callfilter import resolve_search

if TYPE_CHECKING:
    import psycopg

__all__ = ["main"]

PROG: Final = "tokentrail"
# Kept in step with tokentrail.reports.GROUPINGS (a test checks); listed here so --help needs no import.
GROUPINGS: Final = (
    "day", "hour", "model", "user", "session", "service", "workflow", "call-type", "operation", "error-type",
    "prompt-version", "tag", "tool",
)  # fmt: skip
# Kept in step with tokentrail.reports.SORTS (a test checks).
SORTS: Final = ("time", "-time", "cost", "-cost", "latency", "-latency", "tokens", "-tokens")
_DELEGATES: Final = {
    "sink": ("tokentrail.sink.main", "run the OTLP sink that stores spans in Postgres", "sink"),
    "standin": ("tokentrail.dev.standin", "run the local stand-in for the Anthropic API", "dev"),
    "demo": ("tokentrail.dev.demo", "run the demo application against the stand-in", "dev"),
}


# --- parser -----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="tokentrail: one OpenTelemetry span per Claude call, stored in Postgres; reports on them.",
        epilog="Durations: 7d, 12h, 30m, 2s, 1500ms, 1h30m. Times: a duration back from now, or an ISO date/time "
        "(UTC unless an offset is given). --until is exclusive.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text, _extra) in _DELEGATES.items():
        commands.add_parser(name, help=f"{help_text} (`{PROG} {name} --help`)", add_help=False)

    db_options = Parser(add_help=False)
    db_options.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: TOKENTRAIL_DATABASE_URL, else the running embedded cluster, else a running "
        "demo's under ./.demo)",
    )
    output = Parser(add_help=False)
    output.add_argument("--format", choices=render.FORMATS, default="table", help="output format (default: table)")

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", parents=[db_options], help="apply pending schema migrations")

    filters = filter_options()
    stats = commands.add_parser(
        "stats",
        parents=[db_options, output, filters],
        help="calls, tokens, cost, errors, retries, cache and latency (mean, p50/p95/p99)",
    )
    stats.add_argument(
        "--by", type=GROUPING, metavar="GROUPING",
        help=f"group the figures: {', '.join(GROUPINGS)} or attr:KEY (default: one total)",
    )  # fmt: skip

    calls = commands.add_parser("calls", parents=[db_options, filters], help="list calls, newest first")
    calls.add_argument(
        "--format", choices=(*render.FORMATS, "jsonl"), default="table",
        help="output format (default: table); jsonl streams every column, one call per line",
    )  # fmt: skip
    calls.add_argument(
        "--sort",
        choices=SORTS,
        default="-time",
        help="order, descending with a leading - (e.g. -cost; default: -time)",
    )
    calls.add_argument("--limit", type=LIMIT, help=f"at most this many calls (default: {DEFAULT_LIMIT}; jsonl: all)")
    calls.add_argument("--offset", type=OFFSET, default=0, help="skip this many calls first")
    calls.add_argument("--with-content", action="store_true", help="jsonl/--all-columns: add the stored bodies")
    calls.add_argument("--all-columns", action="store_true", help="csv: every stored column (streamed)")

    trace = commands.add_parser("trace", parents=[db_options, output], help="show one trace as a tree")
    trace.add_argument("trace_id", type=TRACE_ID, metavar="TRACE_ID")

    compare = commands.add_parser("compare", parents=[db_options, output], help="A/B figures of prompt versions")
    compare.add_argument("--prompt", required=True, metavar="NAME", help="tokentrail.prompt.name")
    compare.add_argument("--versions", nargs="+", metavar="VERSION", help="these versions, in this order")
    compare.add_argument("--since", type=MOMENT, default="30d", help="start of the range (default: 30d)")
    compare.add_argument("--until", type=MOMENT)

    ui = commands.add_parser("ui", help="serve the read-only web UI (needs the ui extra)")
    ui.add_argument("--database-url", metavar="URL", help="PostgreSQL URL (default: as for the reports)")
    ui.add_argument("--host", help="address to bind (default: TOKENTRAIL_UI_HOST, else 127.0.0.1)")
    ui.add_argument("--port", type=int, help="port (default: TOKENTRAIL_UI_PORT, else 4319)")
    ui.add_argument("--token", help="access token, required off loopback (default: TOKENTRAIL_UI_TOKEN)")
    ui.add_argument("--jaeger-url", metavar="URL", help="Jaeger UI base URL for trace links (TOKENTRAIL_UI_JAEGER_URL)")

    prune = commands.add_parser(
        "prune", parents=[db_options, output], help="drop daily partitions older than a cutoff, then orphan content"
    )
    prune.add_argument("--older-than", type=RETENTION, required=True, metavar="DURATION", help="e.g. 90d")
    prune.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    return parser


# --- entry point ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tokentrail` command line; returns the process exit code."""
    args_list = _sort_values_joined(list(sys.argv[1:] if argv is None else argv))
    if args_list and args_list[0] in _DELEGATES:
        return _delegate(args_list[0], args_list[1:])
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
        if getattr(args, "since", None) and getattr(args, "until", None) and args.until <= args.since:
            parser.error("--until must be later than --since")
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2), message already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        code = _COMMANDS[args.command](args)
        sys.stdout.flush()
    except CommandError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`tokentrail calls | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
        return 1
    return code


def _sort_values_joined(argv: list[str]) -> list[str]:
    """`--sort -cost` as `--sort=-cost`: argparse would take a value with a leading `-` for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--sort" and arg in SORTS:
            joined[-1] = f"--sort={arg}"
        else:
            joined.append(arg)
    return joined


def _delegate(name: str, rest: list[str]) -> int:
    import importlib

    module_name, _, extra = _DELEGATES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(
            f"{PROG}: {name} is unavailable: {exc} (install it with `pip install 'tokentrail[{extra}]'`)",
            file=sys.stderr,
        )
        return 1
    try:
        result = module.main(rest)
    except SystemExit as exit_:  # their argparse: --help or a usage error, already reported
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    return int(result or 0)


# --- database access --------------------------------------------------------------------------------------


def _database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    from tokentrail.db import settings
    from tokentrail.reports import connect

    current = settings.load()
    return connect.locate(current.database_url, current.data_dir)


def _connect(args: argparse.Namespace) -> AbstractContextManager[psycopg.Connection[Any]]:
    from tokentrail.reports import connect

    connect.require_driver()
    return connect.connect(_database_url(args))


# --- commands ---------------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    from tokentrail.reports.connect import describe, first_line

    url = _database_url(args)
    where = describe(url)
    import psycopg

    from tokentrail.db.migrate import MigrationError, upgrade

    try:
        applied = upgrade(url)
    except psycopg.OperationalError as exc:
        raise CommandError(f"cannot connect to the database at {where}: {first_line(exc)}", 1) from None
    except (MigrationError, psycopg.Error) as exc:
        raise CommandError(f"migration failed: {first_line(exc)}", 1) from None
    render.migrations(applied)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from tokentrail.reports import queries

    where = call_filter(args, since="7d")
    with _connect(args) as conn:
        rows = queries.stats(conn, resolve_search(conn, where), args.by)
    render.stats(rows, args.by, args.format)
    return 0


def cmd_calls(args: argparse.Namespace) -> int:
    from tokentrail.reports import queries

    streamed = args.format == "jsonl" or (args.format == "csv" and args.all_columns)
    if (args.with_content or args.all_columns) and not streamed:
        raise CommandError("error: --with-content and --all-columns need --format jsonl or csv", 2)
    where = call_filter(args, limit=args.limit or DEFAULT_LIMIT)
    with _connect(args) as conn:
        where = resolve_search(conn, where)
        if streamed:
            from tokentrail.reports.export import export_calls

            rows = export_calls(
                conn, where, with_content=args.with_content, sort=args.sort, everything=args.limit is None
            )
            render.export(rows, args.format)
            return 0
        found = queries.calls(conn, where, args.sort)
    render.calls(found, args.format)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from tokentrail.reports import trace

    with _connect(args) as conn:
        roots = trace.trace_tree(conn, args.trace_id)
    if not roots:
        raise CommandError(f"no spans of trace {args.trace_id} are stored", 1)
    render.trace(args.trace_id, roots, args.format)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from tokentrail.reports import queries

    with _connect(args) as conn:
        rows = queries.compare_prompts(conn, args.prompt, args.versions, args.since, args.until)
    render.compare(rows, args.prompt, args.format)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from tokentrail.db import retention

    with _connect(args) as conn:
        result = retention.prune(conn, args.older_than, dry_run=args.dry_run)
    render.prune(result, args.format)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        from tokentrail.ui import main as ui_main
        from tokentrail.ui import settings as ui_settings
    except ModuleNotFoundError as exc:
        raise CommandError(
            f"the UI is unavailable: {exc} (install it with `pip install 'tokentrail[ui]'`)", 1
        ) from None
    from tokentrail.errors import ConfigurationError

    try:
        settings = ui_settings.load(
            database_url=args.database_url or _database_url(args),
            host=args.host,
            port=args.port,
            token=args.token,
            jaeger_url=args.jaeger_url,
        )
    except ConfigurationError as exc:
        raise CommandError(str(exc), 2) from None
    print(f"{PROG} ui: serving on http://{settings.host}:{settings.port}/", file=sys.stderr, flush=True)
    ui_main.serve(settings)
    return 0


_COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "db": cmd_db,
    "stats": cmd_stats,
    "calls": cmd_calls,
    "trace": cmd_trace,
    "compare": cmd_compare,
    "prune": cmd_prune,
    "ui": cmd_ui,
}
