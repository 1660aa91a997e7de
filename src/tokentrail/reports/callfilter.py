"""Which calls a question is about: `CallFilter`, and the WHERE clause every read-side query builds from it.

The CLI's flags, the web UI's query parameters and the query functions share this one filter, so "the calls of
user_123 on claude-sonnet-4-5 in the last 30 days" selects the same rows in `calls`, `stats`, the series and the
pages. Conditions refer to `llm_calls` as `c`. User input only ever travels as a bound parameter; the SQL text is
fixed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

from psycopg import sql

from tokentrail.contract import semconv
from tokentrail.reports.filters import check_range

if TYPE_CHECKING:
    import psycopg
    from typing_extensions import LiteralString

    Connection = psycopg.Connection[Any]

__all__ = [
    "MAX_LIMIT",
    "SEARCH_BLOBS_MAX",
    "CallFilter",
    "Where",
    "filter_conditions",
    "parse_attr_key",
    "parse_prompt",
    "resolve_search",
]

MAX_LIMIT: Final = 10_000
"""The most rows one page of calls may ask for (exports stream instead)."""

_ATTR_KEY: Final = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def parse_attr_key(text: str) -> str:
    """An app attribute key as given to `tokentrail.attributes(key=...)`; `tokentrail.app.` may be included."""
    key = text.strip()
    key = key.removeprefix(semconv.APP_ATTRIBUTE_PREFIX)
    if not _ATTR_KEY.fullmatch(key):
        raise ValueError(f"{text!r} is not an attribute key (letters, digits, _ . - only)")
    return key


def parse_prompt(text: str) -> tuple[str, str | None]:
    """`name` or `name@version` -> (name, version or None)."""
    name, sep, version = text.strip().partition("@")
    if not name or (sep and not version):
        raise ValueError(f"{text!r} is not a prompt like support-answer or support-answer@v2")
    return name, version if sep else None


@dataclass(frozen=True)
class CallFilter:
    """Which calls to read. Every given criterion must hold; `None` (or empty) leaves it out.

    `model` matches the requested or the answering model; `prompt` is `name` or `name@version`; `attrs` are
    `(key, value)` pairs matched against `tokentrail.app.<key>` as text; `tool` is a tool the response asked for;
    `request_id` is an incoming X-Request-ID, matched on the HTTP server span of the call's trace; `search` is
    text (case-insensitive) in the stored system, prompt or completion content. `search_blobs` is that search
    resolved to the content it matches (`resolve_search`; not a criterion of its own).
    """

    since: datetime | None = None
    until: datetime | None = None
    status: Literal["ok", "error"] | None = None
    model: str | None = None
    user: str | None = None
    session: str | None = None
    service: str | None = None
    tag: str | None = None
    workflow: str | None = None
    call_type: str | None = None
    operation: str | None = None
    error_type: str | None = None
    prompt: str | None = None
    tool: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()
    trace_id: str | None = None
    request_id: str | None = None
    retried: bool | None = None
    min_cost: Decimal | None = None
    min_latency_ms: float | None = None
    search: str | None = None
    search_blobs: tuple[bytes, ...] | None = None
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        check_range(self.since, self.until)
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if self.offset < 0:
            raise ValueError("offset must not be negative")
        if self.status not in (None, "ok", "error"):
            raise ValueError("status must be 'ok' or 'error'")
        if self.prompt is not None:
            parse_prompt(self.prompt)
        for key, _ in self.attrs:
            parse_attr_key(key)
        if self.search is not None and not self.search.strip():
            raise ValueError("search text must not be empty")
        if self.search_blobs is not None and self.search is None:
            raise ValueError("search_blobs resolve a search: give the search text too")


class Where:
    """WHERE conditions with their bound parameters (named placeholders; values never touch the SQL text)."""

    def __init__(self) -> None:
        self.conditions: list[sql.Composable] = []
        self.params: dict[str, Any] = {}

    def add(self, condition: LiteralString | sql.Composable, **params: Any) -> Where:
        self.conditions.append(sql.SQL(condition) if isinstance(condition, str) else condition)
        self.params.update(params)
        return self

    def time_range(self, since: datetime | None, until: datetime | None) -> Where:
        if since is not None:
            self.add("c.start_time >= %(since)s", since=since)
        if until is not None:
            self.add("c.start_time < %(until)s", until=until)
        return self

    def clause(self) -> sql.Composable:
        """` WHERE a AND b`, or nothing without conditions."""
        if not self.conditions:
            return sql.SQL("")
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(self.conditions)


_EQUALS: Final[tuple[tuple[str, LiteralString], ...]] = (
    ("status", "c.status = %(status)s"),
    ("model", "(c.request_model = %(model)s OR c.response_model = %(model)s)"),
    ("user", "c.user_id = %(user)s"),
    ("session", "c.session_id = %(session)s"),
    ("service", "c.service_name = %(service)s"),
    ("tag", "c.tags @> ARRAY[%(tag)s]::text[]"),  # the tags' GIN index serves @>, not = ANY
    ("workflow", "c.workflow_name = %(workflow)s"),
    ("call_type", "c.call_type = %(call_type)s"),
    ("operation", "c.operation = %(operation)s"),
    ("error_type", "c.status = 'error' AND c.error_type = %(error_type)s"),
    ("tool", "c.tool_names @> ARRAY[%(tool)s]::text[]"),
    ("trace_id", "c.trace_id = %(trace_id)s"),
    # The same condition twice: the second is the cost index's expression (migration 0007), so that index finds
    # the calls; the first keeps calls without a cost out for any minimum.
    ("min_cost", "c.cost_usd >= %(min_cost)s AND coalesce(c.cost_usd, -1) >= %(min_cost)s"),
    ("min_latency_ms", "c.duration_ms >= %(min_latency_ms)s"),
)
# IN (subquery), not = ANY(ARRAY(subquery)): tested against every call of a range, the first is a hash lookup per
# call (a hashed SubPlan), the second a scan of the array.
_SEARCH_BLOBS: Final = "(SELECT b.sha256 FROM content_blobs AS b WHERE b.body ILIKE %(search)s)"


SEARCH_BLOBS_MAX: Final = 1_000
"""The most matching content bodies `resolve_search` hands to the query as values; a broader search stays a
subquery (its calls are everywhere: walking the calls in time order finds a page soon)."""


def resolve_search(conn: Connection, where: CallFilter, most: int = SEARCH_BLOBS_MAX) -> CallFilter:
    """`where` with its text search looked up first (`search_blobs`): the stored bodies that hold the text, found
    through their trigram index. The query then carries them as values, so the planner sees how selective the
    search is and reads a rare text's calls through the content indexes (migration 0008) instead of testing every
    call of the range; a text no body holds selects nothing at once. Unchanged without a search, or for one that
    matches more than `most` bodies."""
    if where.search is None or where.search_blobs is not None:
        return where
    rows = conn.execute(
        "SELECT b.sha256 FROM content_blobs AS b WHERE b.body ILIKE %s LIMIT %s",
        (_like_pattern(where.search.strip()), most + 1),
    ).fetchall()
    if len(rows) > most:
        return where
    return replace(where, search_blobs=tuple(bytes(row[0]) for row in rows))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _stored_shapes(key: str, value: str) -> list[str]:
    """The JSON objects one of which `attributes` contains whenever `attributes ->> key = value` holds: the value
    stored as a string, or (when `value` is JSON text, say `42` or `true`) as that JSON value. The containment
    test can use the GIN index on `attributes`; the exact `->>` comparison stays beside it."""
    shapes = [json.dumps({key: value})]
    try:
        parsed = json.loads(value, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError:
        return shapes
    if not isinstance(parsed, str):
        shapes.append("{" + json.dumps(key) + ": " + value + "}")
    return shapes


def filter_conditions(where: CallFilter) -> Where:
    """The conditions of `where` on `llm_calls AS c` (limit and offset are the caller's)."""
    cond = Where().time_range(where.since, where.until)
    for field, condition in _EQUALS:
        value = getattr(where, field)
        if value is not None:
            cond.add(condition, **{field: value})
    if where.prompt is not None:
        name, version = parse_prompt(where.prompt)
        cond.add("c.prompt_name = %(prompt_name)s", prompt_name=name)
        if version is not None:
            cond.add("c.prompt_version = %(prompt_version)s", prompt_version=version)
    for index, (key, value) in enumerate(where.attrs):
        full_key = semconv.APP_ATTRIBUTE_PREFIX + parse_attr_key(key)
        shapes = _stored_shapes(full_key, value)
        has = sql.SQL(" OR ").join(
            sql.SQL("c.attributes @> {}::jsonb").format(sql.Placeholder(f"attr_has_{index}_{n}"))
            for n in range(len(shapes))
        )
        cond.add(
            sql.SQL("({}) AND c.attributes ->> {} = {}").format(
                has, sql.Placeholder(f"attr_key_{index}"), sql.Placeholder(f"attr_value_{index}")
            ),
            **{f"attr_key_{index}": full_key, f"attr_value_{index}": value},
            **{f"attr_has_{index}_{n}": shape for n, shape in enumerate(shapes)},
        )
    if where.retried is True:
        cond.add("c.attempts > 1")
    elif where.retried is False:
        cond.add("coalesce(c.attempts, 1) <= 1")
    if where.request_id is not None:
        cond.add(
            "c.trace_id IN (SELECT s.trace_id FROM spans AS s WHERE s.kind = 2 "
            "AND s.attributes ? 'http.request.header.x_request_id' "
            "AND s.attributes -> 'http.request.header.x_request_id' ? %(request_id)s)",
            request_id=where.request_id,
        )
    if where.search_blobs is not None:
        if not where.search_blobs:
            cond.add("false")  # no stored content holds the text
        else:
            cond.add(
                "(c.input_sha256 = ANY(%(search_blobs)s) OR c.output_sha256 = ANY(%(search_blobs)s)"
                " OR c.system_sha256 = ANY(%(search_blobs)s))",
                search_blobs=list(where.search_blobs),
            )
    elif where.search is not None:
        cond.add(
            sql.SQL("(c.input_sha256 IN {blobs} OR c.output_sha256 IN {blobs} OR c.system_sha256 IN {blobs})").format(
                blobs=sql.SQL(_SEARCH_BLOBS)
            ),
            search=_like_pattern(where.search.strip()),
        )
    return cond
