"""The options of the report commands: argument types, and the filters `stats` and `calls` share.

`filter_options()` is the parent parser of those filters (each one a `CallFilter` field) and `call_filter(args)`
maps the parsed arguments onto the `CallFilter` every query takes; the values are parsed and checked by
`tokentrail.reports.filters`, the parsers the web UI uses too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, NoReturn

from tokentrail.errors import CommandError
from tokentrail.reports import filters

if TYPE_CHECKING:
    from tokentrail.reports.callfilter import CallFilter

__all__ = [
    "ATTR",
    "COUNT",
    "DEFAULT_LIMIT",
    "DURATION",
    "GROUPING",
    "LIMIT",
    "MOMENT",
    "MONEY",
    "OFFSET",
    "PROMPT",
    "RETENTION",
    "TEXT",
    "TRACE_ID",
    "Parser",
    "call_filter",
    "filter_options",
]

DEFAULT_LIMIT: Final = 50


# --- argument types ---------------------------------------------------------------------------------------


def _arg_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the type in its messages
    return convert


DURATION = _arg_type(filters.parse_positive_duration, "duration")
RETENTION = _arg_type(filters.parse_retention, "retention")
MOMENT = _arg_type(filters.parse_moment, "time")
MONEY = _arg_type(filters.parse_money, "amount")
COUNT = _arg_type(filters.parse_count, "count")
TRACE_ID = _arg_type(filters.parse_trace_id, "trace id")


GROUPING = _arg_type(filters.parse_grouping, "grouping")
ATTR = _arg_type(filters.parse_attr, "KEY=VALUE")
PROMPT = _arg_type(filters.parse_prompt_text, "prompt")
LIMIT = _arg_type(filters.parse_limit, "limit")
OFFSET = _arg_type(filters.parse_offset, "offset")
TEXT = _arg_type(filters.parse_text, "text")


class Parser(argparse.ArgumentParser):
    """argparse with a usage error as ONE line on stderr (`tokentrail stats: argument --by: ...`), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def filter_options() -> Parser:
    """The filters `stats` and `calls` share: each a `CallFilter` field (`call_filter` maps them)."""
    options = Parser(add_help=False)
    group = options.add_argument_group("filters (every one given must hold)")
    add = group.add_argument
    add("--since", type=MOMENT, help="start of the range (default for stats: 7d)")
    add("--until", type=MOMENT, help="end of the range, exclusive (default: now)")
    add("--status", choices=("ok", "error"))
    add("--model", help="requested or answering model")
    add("--user", help="user.id")
    add("--session", help="session.id")
    add("--service", help="service.name")
    add("--tag")
    add("--workflow", help="gen_ai.workflow.name")
    add("--call-type", help="tokentrail.call_type (your own kind of call)")
    add("--operation", help="chat, count_tokens, ...")
    add("--error-type", help="e.g. rate_limit_error")
    add("--prompt", type=PROMPT, metavar="NAME[@VERSION]", help="tokentrail.prompt.name[@version]")
    add("--tool", metavar="NAME", help="the response asked to call this tool")
    add("--attr", type=ATTR, action="append", default=[], metavar="KEY=VALUE",
        help="an app attribute, tokentrail.attributes(KEY=...) (repeatable)")  # fmt: skip
    add("--request-id", type=TEXT, metavar="ID", help="the X-Request-ID of the incoming HTTP request")
    retried = group.add_mutually_exclusive_group()
    retried.add_argument("--retried", dest="retried", action="store_const", const=True, help="the SDK retried it")
    retried.add_argument("--not-retried", dest="retried", action="store_const", const=False)
    add("--min-cost", type=MONEY, metavar="USD")
    add("--min-latency", type=DURATION, metavar="DURATION", help="e.g. 2s or 500ms")
    add("--search", type=TEXT, metavar="TEXT", help="text in the stored prompt or completion (case-insensitive)")
    return options


def call_filter(args: argparse.Namespace, *, since: str | None = None, limit: int = DEFAULT_LIMIT) -> CallFilter:
    """The `CallFilter` of the shared filter options; `since` is the default start when none was given."""
    from tokentrail.reports.callfilter import CallFilter

    try:
        return CallFilter(
            since=args.since if args.since is not None or since is None else filters.parse_moment(since),
            until=args.until,
            status=args.status,
            model=args.model,
            user=args.user,
            session=args.session,
            service=args.service,
            tag=args.tag,
            workflow=args.workflow,
            call_type=args.call_type,
            operation=args.operation,
            error_type=args.error_type,
            prompt=args.prompt,
            tool=args.tool,
            attrs=tuple(args.attr),
            request_id=args.request_id,
            retried=args.retried,
            min_cost=args.min_cost,
            min_latency_ms=args.min_latency.total_seconds() * 1000 if args.min_latency else None,
            search=args.search,
            limit=limit,
            offset=getattr(args, "offset", 0),
        )
    except ValueError as exc:
        raise CommandError(f"error: {exc}", 2) from None
