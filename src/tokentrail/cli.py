"""The `tokentrail` command: run the sink, stand-in and demo; migrate the database; report on stored calls.

Every database command takes `--database-url`, defaulting to `TOKENTRAIL_DATABASE_URL`, then to the embedded
cluster when it is running. Exit codes: 0 success, 1 a runtime failure (database unreachable, query failed),
2 bad arguments or missing configuration. Errors are one line on stderr, never a traceback.

Heavy modules (psycopg, the sink, the stand-in) are imported inside the command that needs them, so
`tokentrail --help` stays instant.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, TextIO

from tokentrail.errors import CommandError

if TYPE_CHECKING:
    import psycopg

    from tokentrail import reports

__all__ = ["main", "parse_duration", "parse_moment"]

PROG: Final = "tokentrail"
FORMATS: Final = ("table", "json", "csv")
# Kept in step with tokentrail.reports.GROUPINGS (a test checks); listed here so --help needs no import.
GROUPINGS: Final = ("day", "model", "user", "session", "service", "call-type", "prompt-version", "tag")
_DELEGATES: Final = {
    "sink": ("tokentrail.sink.main", "run the OTLP sink that stores spans in Postgres", "sink"),
    "standin": ("tokentrail.dev.standin", "run the local stand-in for the Anthropic API", "dev"),
    "demo": ("tokentrail.dev.demo", "run the demo application against the stand-in", "dev"),
}


# --- argument types ---------------------------------------------------------------------------------------

_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_FULL: Final = re.compile(rf"(?:{_DURATION.pattern})+")


def parse_duration(text: str) -> timedelta:
    """`7d`, `12h`, `30m`, `2s`, `1500ms`, `2w`, or combinations like `1h30m`."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION_FULL.fullmatch(compact):
        raise ValueError(f"{text!r} is not a duration like 7d, 12h, 30m, 2s or 1500ms")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(compact))
    return timedelta(seconds=seconds)


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """A point in time: a duration back from now (`7d`), an ISO date (UTC midnight) or an ISO date-time
    (UTC unless it carries an offset)."""
    now = now or datetime.now(timezone.utc)
    stripped = text.strip()
    if _DURATION_FULL.fullmatch(stripped.lower().replace(" ", "")):
        return now - parse_duration(stripped)
    try:
        if len(stripped) == 10:
            day = date.fromisoformat(stripped)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (7d, 12h) nor an ISO date or time (2026-11-01)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _arg_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its messages
    return convert


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def _retention(text: str) -> timedelta:
    value = parse_duration(text)
    if value < timedelta(days=1):
        raise ValueError(f"{text!r} is under one day; partitions are daily, give at least 1d (e.g. 90d)")
    return value


def _money(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in USD like 0.05") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} must be a non-negative amount in USD")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1")
    return value


_TRACE_ID: Final = re.compile(r"[0-9a-f]{32}")


def _trace_id(text: str) -> str:
    value = text.strip().lower()
    if not _TRACE_ID.fullmatch(value) or value == "0" * 32:
        raise ValueError(f"{text!r} is not a trace id (32 hexadecimal characters)")
    return value


DURATION = _arg_type(_positive_duration, "duration")
RETENTION = _arg_type(_retention, "retention")
MOMENT = _arg_type(parse_moment, "time")
MONEY = _arg_type(_money, "amount")
COUNT = _arg_type(_positive_int, "count")
TRACE_ID = _arg_type(_trace_id, "trace id")


# --- parser -----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="tokentrail: one OpenTelemetry span per Claude call, stored in Postgres; reports on them.",
        epilog="Durations: 7d, 12h, 30m, 2s, 1500ms, 1h30m. Times: a duration back from now, or an ISO date/time "
        "(UTC unless an offset is given). --until is exclusive.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text, _extra) in _DELEGATES.items():
        commands.add_parser(name, help=f"{help_text} (`{PROG} {name} --help`)", add_help=False)

    db_options = argparse.ArgumentParser(add_help=False)
    db_options.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: TOKENTRAIL_DATABASE_URL, else the running embedded cluster)",
    )
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")

    db = commands.add_parser("db", help="manage the database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", parents=[db_options], help="apply pending schema migrations")

    stats = commands.add_parser(
        "stats", parents=[db_options, output], help="calls, tokens, cost, errors, cache and latency percentiles"
    )
    stats.add_argument("--since", type=MOMENT, default="7d", help="start of the range (default: 7d)")
    stats.add_argument("--until", type=MOMENT, help="end of the range, exclusive (default: now)")
    stats.add_argument("--by", choices=GROUPINGS, help="group the figures (default: one total)")

    calls = commands.add_parser("calls", parents=[db_options, output], help="list calls, newest first")
    calls.add_argument("--status", choices=("ok", "error"))
    calls.add_argument("--model", help="requested or answering model")
    calls.add_argument("--user", help="user.id")
    calls.add_argument("--session", help="session.id")
    calls.add_argument("--tag")
    calls.add_argument("--since", type=MOMENT)
    calls.add_argument("--until", type=MOMENT)
    calls.add_argument("--min-cost", type=MONEY, metavar="USD")
    calls.add_argument("--min-latency", type=DURATION, metavar="DURATION", help="e.g. 2s or 500ms")
    calls.add_argument("--limit", type=COUNT, default=50, help="at most this many calls (default: 50)")

    trace = commands.add_parser("trace", parents=[db_options, output], help="show one trace as a tree")
    trace.add_argument("trace_id", type=TRACE_ID, metavar="TRACE_ID")

    compare = commands.add_parser("compare", parents=[db_options, output], help="A/B figures of prompt versions")
    compare.add_argument("--prompt", required=True, metavar="NAME", help="tokentrail.prompt.name")
    compare.add_argument("--versions", nargs="+", metavar="VERSION", help="these versions, in this order")
    compare.add_argument("--since", type=MOMENT, default="30d", help="start of the range (default: 30d)")
    compare.add_argument("--until", type=MOMENT)

    prune = commands.add_parser(
        "prune", parents=[db_options, output], help="drop daily partitions older than a cutoff, then orphan content"
    )
    prune.add_argument("--older-than", type=RETENTION, required=True, metavar="DURATION", help="e.g. 90d")
    prune.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    return parser


# --- entry point ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tokentrail` command line; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
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
    from tokentrail.sink import settings

    try:
        current = settings.load()
    except ValueError as exc:
        raise CommandError(f"bad configuration: {exc}", 2) from None
    if current.database_url:
        return current.database_url
    from tokentrail.db.embedded import running_url

    url = running_url(current.data_dir)
    if url:
        return url
    raise CommandError(
        "no database configured: set TOKENTRAIL_DATABASE_URL (e.g. postgresql://user@localhost:5432/tokentrail), "
        "pass --database-url, or start the embedded database with `tokentrail sink`",
        2,
    )


def _describe(url: str) -> str:
    """Where a URL points, without credentials; a malformed URL is a usage error."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise CommandError(f"invalid database URL: {_first_line(exc)}", 2) from None
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def _connect(args: argparse.Namespace) -> Iterator[psycopg.Connection[Any]]:
    try:
        import psycopg
    except ModuleNotFoundError:
        raise CommandError("psycopg is not installed: `pip install 'tokentrail[sink]'`", 1) from None
    url = _database_url(args)
    where = _describe(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="tokentrail-cli")
    except psycopg.OperationalError as exc:
        raise CommandError(f"cannot connect to the database at {where}: {_first_line(exc)}", 1) from None
    try:
        with conn:
            yield conn
    except psycopg.errors.UndefinedTable as exc:
        raise CommandError(
            f"the database at {where} has no tokentrail schema ({_first_line(exc)}); run `{PROG} db upgrade`", 1
        ) from None
    except psycopg.Error as exc:
        raise CommandError(f"database error at {where}: {_first_line(exc)}", 1) from None


# --- output -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    show: Callable[[Any], str] = str
    right: bool = False


def _dash(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: "-" if value is None else show(value)


def fmt_int(value: Any) -> str:
    return f"{int(value):,}"


def fmt_ms(value: Any) -> str:
    ms = float(value)
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.2f}s"


def fmt_cost(value: Any) -> str:
    amount = Decimal(value)
    if 0 < abs(amount) < Decimal("0.0001"):  # a sub-cent call (a short Haiku reply) must not read as free
        return f"${amount:.6f}"
    return f"${amount:,.4f}"


def fmt_pct(value: Any) -> str:
    return f"{float(value):.1%}"


def fmt_time(value: Any) -> str:
    moment: datetime = value
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _clip(limit: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        text = " ".join(str(value).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return show


INT = _dash(fmt_int)
MS = _dash(fmt_ms)
COST = _dash(fmt_cost)
PCT = _dash(fmt_pct)


def _plain(value: Any) -> Any:
    """A value as JSON/CSV carry it: numbers as numbers, times in ISO 8601."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def emit(records: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, out: TextIO | None = None) -> None:
    """Write records as an aligned table (the given columns), JSON (a list of objects) or CSV (every key)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([{k: _plain(v) for k, v in r.items()} for r in records], out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        fields = list(records[0]) if records else [c.key for c in columns]
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else _plain(v) for k, v in record.items()})
        return
    cells = [[c.header for c in columns]] + [[c.show(r.get(c.key)) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        line = "  ".join(
            text.rjust(width) if column.right else text.ljust(width)
            for text, width, column in zip(row, widths, columns, strict=True)
        )
        out.write(line.rstrip() + "\n")


def _nothing(fmt: str, what: str, columns: Sequence[Column]) -> None:
    if fmt == "table":
        print(f"no {what}", file=sys.stderr)
    else:
        emit([], columns, fmt)


# --- commands ---------------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    url = _database_url(args)
    where = _describe(url)
    import psycopg

    from tokentrail.db.migrate import MigrationError, upgrade

    try:
        applied = upgrade(url)
    except psycopg.OperationalError as exc:
        raise CommandError(f"cannot connect to the database at {where}: {_first_line(exc)}", 1) from None
    except (MigrationError, psycopg.Error) as exc:
        raise CommandError(f"migration failed: {_first_line(exc)}", 1) from None
    if applied:
        print(f"applied migrations {', '.join(str(v) for v in applied)}")
    else:
        print("the schema is up to date")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from tokentrail import reports

    key_header = args.by or "key"
    columns = [
        *([Column(key_header, key_header, _dash(str))] if args.by else []),
        Column("calls", "calls", fmt_int, right=True),
        Column("error_rate", "errors", fmt_pct, right=True),
        Column("input_tokens", "input tok", fmt_int, right=True),
        Column("output_tokens", "output tok", fmt_int, right=True),
        Column("cache_hit_ratio", "cache hit", PCT, right=True),
        Column("cost_usd", "cost", fmt_cost, right=True),
        Column("latency_p50_ms", "p50", MS, right=True),
        Column("latency_p95_ms", "p95", MS, right=True),
        Column("latency_p99_ms", "p99", MS, right=True),
        Column("ttfc_p50_ms", "ttfc p50", MS, right=True),
        Column("ttfc_p95_ms", "ttfc p95", MS, right=True),
    ]
    with _connect(args) as conn:
        rows = reports.stats(conn, args.since, args.until, args.by)
    records = []
    for row in rows:
        record = dataclasses.asdict(row)
        key = record.pop("key")
        records.append({key_header: key, **record} if args.by else record)
    if not records:
        _nothing(args.format, "calls in this range", columns)
    else:
        emit(records, columns, args.format)
    return 0


def _status(record: dict[str, Any]) -> str:
    if record["status"] == "error":
        return f"error {record['error_type']}" if record.get("error_type") else "error"
    return str(record["status"])


def cmd_calls(args: argparse.Namespace) -> int:
    from tokentrail import reports

    where = reports.CallFilter(
        since=args.since,
        until=args.until,
        status=args.status,
        model=args.model,
        user=args.user,
        session=args.session,
        tag=args.tag,
        min_cost=args.min_cost,
        min_latency_ms=args.min_latency.total_seconds() * 1000 if args.min_latency else None,
        limit=args.limit,
    )
    columns = [
        Column("start_time", "time (UTC)", fmt_time),
        Column("trace_id", "trace"),
        Column("model", "model", _dash(str)),
        Column("input_tokens", "in", INT, right=True),
        Column("output_tokens", "out", INT, right=True),
        Column("cost_usd", "cost", COST, right=True),
        Column("duration_ms", "latency", fmt_ms, right=True),
        Column("status_text", "status"),
        Column("error_message", "error", _dash(_clip(40))),
        Column("prompt_preview", "prompt", _dash(str)),
    ]
    with _connect(args) as conn:
        rows = reports.calls(conn, where)
    records = [dataclasses.asdict(row) for row in rows]
    if args.format == "table":
        for record in records:
            record["status_text"] = _status(record)
    if not records:
        _nothing(args.format, "calls match", columns)
    else:
        emit(records, columns, args.format)
    return 0


def render_tree(trace_id: str, roots: Sequence[reports.TreeNode]) -> str:
    """A trace as box-drawing text: a summary line, then one line per span."""
    nodes = [node for root in roots for node in root.walk()]
    calls = [node.llm for node in nodes if node.llm is not None]
    start = min(node.start_time for node in nodes)
    end = max(node.start_time + timedelta(milliseconds=node.duration_ms) for node in nodes)
    tokens = sum((c.input_tokens or 0) + (c.output_tokens or 0) for c in calls)
    cost = sum((c.cost_usd for c in calls if c.cost_usd is not None), Decimal(0))
    lines = [
        f"trace {trace_id}  {len(nodes)} span{'s' * (len(nodes) != 1)}  "
        f"{fmt_ms((end - start).total_seconds() * 1000)}  "
        f"{len(calls)} LLM call{'s' * (len(calls) != 1)}  {tokens:,} tokens  {fmt_cost(cost)}"
    ]

    def describe(node: reports.TreeNode, parent_service: str | None) -> str:
        parts = [node.name, fmt_ms(node.duration_ms)]
        if node.service_name and node.service_name != parent_service:
            parts.append(f"[{node.service_name}]")
        llm = node.llm
        if llm is not None:
            if llm.model and llm.model not in node.name:
                parts.append(llm.model)
            if llm.input_tokens is not None or llm.output_tokens is not None:
                parts.append(f"in {INT(llm.input_tokens)} out {INT(llm.output_tokens)}")
            if llm.cost_usd is not None:
                parts.append(fmt_cost(llm.cost_usd))
            parts.append(f"error {llm.error_type}" if llm.status == "error" and llm.error_type else llm.status)
        elif node.status_code == 2:
            parts.append(f"error: {_clip(60)(node.status_message)}" if node.status_message else "error")
        if node.orphan:
            parts.append(f"(parent {node.parent_span_id} not stored)")
        return "  ".join(parts)

    def walk(node: reports.TreeNode, prefix: str, branch: str, parent_service: str | None) -> None:
        lines.append(prefix + branch + describe(node, parent_service))
        child_prefix = prefix + {"": "", "├── ": "│   ", "└── ": "    "}[branch]
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            walk(child, child_prefix, "└── " if last else "├── ", node.service_name)

    for root in roots:
        walk(root, "", "", None)
    return "\n".join(lines) + "\n"


def _flatten(roots: Sequence[reports.TreeNode]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []

    def visit(node: reports.TreeNode, depth: int) -> None:
        llm = dataclasses.asdict(node.llm) if node.llm else {}
        records.append(
            {
                "depth": depth,
                "span_id": node.span_id,
                "parent_span_id": node.parent_span_id,
                "name": node.name,
                "start_time": node.start_time,
                "duration_ms": node.duration_ms,
                "service_name": node.service_name,
                "status_code": node.status_code,
                "orphan": node.orphan,
                **{f"llm_{key}": llm.get(key) for key in ("model", "input_tokens", "output_tokens", "cost_usd")},
                "llm_status": llm.get("status"),
                "llm_error_type": llm.get("error_type"),
            }
        )
        for child in node.children:
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    return records


def _tree_json(node: reports.TreeNode) -> dict[str, Any]:
    record = {k: _plain(v) for k, v in dataclasses.asdict(node).items() if k not in ("children", "llm")}
    record["llm"] = {k: _plain(v) for k, v in dataclasses.asdict(node.llm).items()} if node.llm else None
    record["children"] = [_tree_json(child) for child in node.children]
    return record


def cmd_trace(args: argparse.Namespace) -> int:
    from tokentrail import reports

    with _connect(args) as conn:
        roots = reports.trace_tree(conn, args.trace_id)
    if not roots:
        raise CommandError(f"no spans of trace {args.trace_id} are stored", 1)
    if args.format == "table":
        sys.stdout.write(render_tree(args.trace_id, roots))
    elif args.format == "json":
        json.dump([_tree_json(root) for root in roots], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        emit(_flatten(roots), [], "csv")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from tokentrail import reports

    columns = [
        Column("version", "version", _dash(str)),
        Column("calls", "calls", fmt_int, right=True),
        Column("success_rate", "success", PCT, right=True),
        Column("latency_p50_ms", "p50", MS, right=True),
        Column("latency_p95_ms", "p95", MS, right=True),
        Column("mean_cost_usd", "mean cost", COST, right=True),
        Column("mean_output_tokens", "mean out tok", _dash(lambda v: f"{float(v):,.1f}"), right=True),
    ]
    with _connect(args) as conn:
        rows = reports.compare_prompts(conn, args.prompt, args.versions, args.since, args.until)
    records = [dataclasses.asdict(row) for row in rows]
    if not records:
        _nothing(args.format, f"calls of prompt {args.prompt!r} in this range", columns)
    else:
        emit(records, columns, args.format)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from tokentrail import reports

    with _connect(args) as conn:
        result = reports.prune(conn, args.older_than, dry_run=args.dry_run)
    if args.format != "table":
        records = [{**dataclasses.asdict(p), "dry_run": result.dry_run} for p in result.partitions]
        columns = [Column(k, k) for k in ("table", "name", "start", "end", "rows", "dry_run")]
        if args.format == "json":
            summary = {
                "cutoff": _plain(result.cutoff),
                "dry_run": result.dry_run,
                "partitions": [{k: _plain(v) for k, v in dataclasses.asdict(p).items()} for p in result.partitions],
                "rows": result.rows,
                "blobs": result.blobs,
            }
            json.dump(summary, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            emit(records, columns, "csv")
        return 0
    verb = "would drop" if result.dry_run else "dropped"
    print(f"cutoff {fmt_time(result.cutoff)} UTC")
    for partition in result.partitions:
        print(f"{verb} {partition.name} ({partition.rows:,} rows)")
    print(
        f"{verb} {len(result.partitions)} partitions ({result.rows:,} rows) and "
        f"{result.blobs:,} unreferenced content blobs"
    )
    return 0


_COMMANDS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "db": cmd_db,
    "stats": cmd_stats,
    "calls": cmd_calls,
    "trace": cmd_trace,
    "compare": cmd_compare,
    "prune": cmd_prune,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
