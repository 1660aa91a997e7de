"""The read side of tokentrail: every query the CLI (and anyone scripting reports) runs against the store.

Functions take an open psycopg connection and return typed rows; formatting belongs to the caller
(`tokentrail.cli`). Time ranges are half-open, `since <= start_time < until`, on the call's start time; `None`
leaves a side open. Grouping identifiers come from a fixed mapping: user input is only ever passed as a bound
parameter, never spliced into SQL.

Latencies are in milliseconds; percentiles are continuous (`percentile_cont`), as in the SQL views.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

if TYPE_CHECKING:
    from typing_extensions import LiteralString

__all__ = [
    "GROUPINGS",
    "CallFilter",
    "CallRow",
    "Grouping",
    "LlmInfo",
    "PartitionInfo",
    "PromptVersionRow",
    "PruneResult",
    "StatsRow",
    "TreeNode",
    "calls",
    "compare_prompts",
    "last_user_text",
    "prune",
    "stats",
    "trace_tree",
]

Connection = psycopg.Connection[Any]

Grouping = Literal["day", "model", "user", "session", "service", "call-type", "prompt-version", "tag"]
GROUPINGS: Final[tuple[str, ...]] = get_args(Grouping)

_MODEL: Final = sql.SQL("coalesce(c.request_model, c.response_model)")
_GROUP_KEYS: Final[Mapping[str, sql.Composable]] = {
    "day": sql.SQL("to_char(c.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    "model": _MODEL,
    "user": sql.SQL("c.user_id"),
    "session": sql.SQL("c.session_id"),
    "service": sql.SQL("c.service_name"),
    "call-type": sql.SQL("c.operation"),
    "prompt-version": sql.SQL(
        "CASE WHEN c.prompt_name IS NOT NULL OR c.prompt_version IS NOT NULL "
        "THEN coalesce(c.prompt_name, '?') || '@' || coalesce(c.prompt_version, '?') END"
    ),
    "tag": sql.SQL("t.tag"),
}
# A call with tags counts once under each distinct tag (the first occurrence of a repeated tag is kept); a call
# without tags once under NULL.
_TAG_JOIN: Final = sql.SQL(" LEFT JOIN LATERAL unnest(c.tags) WITH ORDINALITY AS t(tag, n) ON true")
_TAG_FIRST: Final = "(t.n IS NULL OR array_position(c.tags, t.tag) = t.n)"


# --- stats ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsRow:
    """Aggregates of one group (or of everything, with `key` None and no grouping)."""

    key: str | None
    calls: int
    errors: int
    error_rate: float
    input_tokens: int
    """Including cache reads and writes, as on the span."""
    output_tokens: int
    cache_read_tokens: int
    cache_hit_ratio: float | None
    """cache_read_tokens / input_tokens; None when no input tokens were recorded."""
    cost_usd: Decimal
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    ttfc_p50_ms: float | None
    """Time to first chunk (streaming calls only); None when the group had none."""
    ttfc_p95_ms: float | None


class _Where:
    """WHERE conditions with their bound parameters (named placeholders; values never touch the SQL text)."""

    def __init__(self) -> None:
        self.conditions: list[sql.Composable] = []
        self.params: dict[str, Any] = {}

    def add(self, condition: LiteralString, **params: Any) -> None:
        self.conditions.append(sql.SQL(condition))
        self.params.update(params)

    def time_range(self, since: datetime | None, until: datetime | None) -> _Where:
        if since is not None:
            self.add("c.start_time >= %(since)s", since=since)
        if until is not None:
            self.add("c.start_time < %(until)s", until=until)
        return self

    def clause(self) -> sql.Composable:
        if not self.conditions:
            return sql.SQL("")
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(self.conditions)


def _check_range(since: datetime | None, until: datetime | None) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if since is not None and until is not None and until <= since:
        raise ValueError("until must be later than since")


def stats(
    conn: Connection, since: datetime | None, until: datetime | None = None, by: Grouping | None = None
) -> list[StatsRow]:
    """Calls, tokens, cost, error rate, cache hit ratio and latency percentiles, per `by` group (or overall).

    Rows come by day ascending for `day`, otherwise by cost (then calls) descending. Empty when no call matched.
    """
    _check_range(since, until)
    if by is not None and by not in _GROUP_KEYS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    key = _GROUP_KEYS[by] if by is not None else sql.SQL("NULL::text")
    where = _Where().time_range(since, until)
    if by == "tag":
        where.add(_TAG_FIRST)
    order = sql.SQL("key") if by == "day" else sql.SQL("cost_usd DESC, calls DESC, key ASC NULLS LAST")
    query = sql.SQL(
        """
        SELECT {key} AS key,
               count(*) AS calls,
               count(*) FILTER (WHERE c.status = 'error') AS errors,
               (count(*) FILTER (WHERE c.status = 'error'))::float8 / count(*) AS error_rate,
               coalesce(sum(c.input_tokens), 0)::bigint AS input_tokens,
               coalesce(sum(c.output_tokens), 0)::bigint AS output_tokens,
               coalesce(sum(c.cache_read_tokens), 0)::bigint AS cache_read_tokens,
               sum(c.cache_read_tokens)::float8 / nullif(sum(c.input_tokens), 0) AS cache_hit_ratio,
               coalesce(sum(c.cost_usd), 0) AS cost_usd,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p99_ms,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.time_to_first_chunk_ms) AS ttfc_p95_ms
        FROM llm_calls AS c{join}{where}
        GROUP BY 1
        ORDER BY {order}
        """
    ).format(
        key=key,
        join=_TAG_JOIN if by == "tag" else sql.SQL(""),
        where=where.clause(),
        order=order,
    )
    with conn.cursor(row_factory=class_row(StatsRow)) as cur:
        return cur.execute(query, where.params).fetchall()


# --- calls ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallFilter:
    """Which calls `calls()` lists. Every given criterion must hold; `model` matches requested or answering model."""

    since: datetime | None = None
    until: datetime | None = None
    status: Literal["ok", "error"] | None = None
    model: str | None = None
    user: str | None = None
    session: str | None = None
    tag: str | None = None
    min_cost: Decimal | None = None
    min_latency_ms: float | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        _check_range(self.since, self.until)
        if self.limit < 1:
            raise ValueError("limit must be at least 1")
        if self.status not in (None, "ok", "error"):
            raise ValueError("status must be 'ok' or 'error'")


@dataclass(frozen=True)
class CallRow:
    start_time: datetime
    trace_id: str
    span_id: str
    operation: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    duration_ms: float
    time_to_first_chunk_ms: float | None
    status: str
    error_type: str | None
    error_message: str | None
    user_id: str | None
    session_id: str | None
    service_name: str | None
    prompt_preview: str | None
    """The first characters of the last user message's text, when content was captured."""


PREVIEW_CHARS: Final = 80


def calls(conn: Connection, where: CallFilter) -> list[CallRow]:
    """The calls matching `where`, newest first, at most `where.limit`."""
    cond = _Where().time_range(where.since, where.until)
    if where.status is not None:
        cond.add("c.status = %(status)s", status=where.status)
    if where.model is not None:
        cond.add("(c.request_model = %(model)s OR c.response_model = %(model)s)", model=where.model)
    if where.user is not None:
        cond.add("c.user_id = %(user)s", user=where.user)
    if where.session is not None:
        cond.add("c.session_id = %(session)s", session=where.session)
    if where.tag is not None:
        cond.add("%(tag)s = ANY(c.tags)", tag=where.tag)
    if where.min_cost is not None:
        cond.add("c.cost_usd >= %(min_cost)s", min_cost=where.min_cost)
    if where.min_latency_ms is not None:
        cond.add("c.duration_ms >= %(min_latency_ms)s", min_latency_ms=where.min_latency_ms)
    query = sql.SQL(
        """
        SELECT c.start_time, c.trace_id, c.span_id, c.operation, {model} AS model,
               c.input_tokens, c.output_tokens, c.cost_usd, c.duration_ms, c.time_to_first_chunk_ms,
               c.status, c.error_type, c.error_message, c.user_id, c.session_id, c.service_name,
               b.body AS input_body
        FROM llm_calls AS c
        LEFT JOIN content_blobs AS b ON b.sha256 = c.input_sha256{where}
        ORDER BY c.start_time DESC, c.span_id
        LIMIT %(limit)s
        """
    ).format(model=_MODEL, where=cond.clause())
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, {**cond.params, "limit": where.limit}).fetchall()
    result = []
    for row in rows:
        body = row.pop("input_body")
        text = last_user_text(body) if body is not None else None
        result.append(CallRow(**row, prompt_preview=_preview(text) if text else None))
    return result


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_USER_ROLE = re.compile(r'"role"\s*:\s*"user"')
_ANY_ROLE = re.compile(r'"role"\s*:')
_TEXT_VALUE = re.compile(r'"(?:content|text)"\s*:\s*"((?:[^"\\]|\\.)*)')


def last_user_text(body: str) -> str | None:
    """The text of the last user message with text in a stored `gen_ai.input.messages` body, or None.

    Understands the semconv message schema (`parts` of `{"type": "text", "content": ...}`), plain string
    `content`, and Anthropic-style content blocks (`{"type": "text", "text": ...}`). A body cut short by the
    capture budget is not valid JSON; its last complete-looking user text is recovered by pattern instead.
    """
    try:
        messages = json.loads(body)
    except ValueError:
        return _last_user_text_truncated(body)
    if isinstance(messages, dict):
        messages = messages.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _message_text(message)
            if text:
                return text
    return None


def _message_text(message: Mapping[str, Any]) -> str | None:
    parts = message.get("parts", message.get("content"))
    if isinstance(parts, str):
        return parts
    if not isinstance(parts, list):
        return None
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text":
            value = part.get("content", part.get("text"))
            if isinstance(value, str):
                texts.append(value)
    return "\n".join(texts) or None


def _last_user_text_truncated(body: str) -> str | None:
    for role in reversed(list(_USER_ROLE.finditer(body))):
        following = _ANY_ROLE.search(body, role.end())  # stay inside this message
        match = _TEXT_VALUE.search(body, role.end(), following.start() if following else len(body))
        if match is None:
            continue
        raw = match.group(1)
        try:
            return str(json.loads(f'"{raw}"'))
        except ValueError:
            return raw
    return None


# --- trace tree -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LlmInfo:
    """The typed call row of a span that was an LLM call."""

    operation: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    status: str
    error_type: str | None


@dataclass
class TreeNode:
    span_id: str
    parent_span_id: str | None
    name: str
    start_time: datetime
    duration_ms: float
    kind: int
    status_code: int
    """OTLP status: 0 unset, 1 ok, 2 error."""
    status_message: str | None
    service_name: str | None
    llm: LlmInfo | None
    children: list[TreeNode] = field(default_factory=list)
    orphan: bool = False
    """True when the span names a parent that is not stored (it is then listed at the root level)."""

    def walk(self) -> Iterable[TreeNode]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


_TRACE_QUERY: Final = """
WITH s AS (
    SELECT span_id, parent_span_id, name, start_time, duration_ms, kind, status_code, status_message, service_name
    FROM spans WHERE trace_id = %(trace_id)s
), c AS (
    SELECT span_id, parent_span_id, start_time, duration_ms, service_name, operation,
           coalesce(request_model, response_model) AS model, input_tokens, output_tokens, cost_usd, status, error_type
    FROM llm_calls WHERE trace_id = %(trace_id)s
)
SELECT coalesce(s.span_id, c.span_id) AS span_id,
       coalesce(s.parent_span_id, c.parent_span_id) AS parent_span_id,
       coalesce(s.name, concat_ws(' ', c.operation, c.model)) AS name,
       coalesce(s.start_time, c.start_time) AS start_time,
       coalesce(s.duration_ms, c.duration_ms) AS duration_ms,
       coalesce(s.kind, 3) AS kind,
       coalesce(s.status_code, CASE WHEN c.status = 'error' THEN 2 ELSE 0 END) AS status_code,
       s.status_message,
       coalesce(s.service_name, c.service_name) AS service_name,
       c.span_id IS NOT NULL AS is_llm,
       c.operation, c.model, c.input_tokens, c.output_tokens, c.cost_usd, c.status, c.error_type
FROM s FULL JOIN c ON c.span_id = s.span_id
ORDER BY 4, 1
"""


def trace_tree(conn: Connection, trace_id: str) -> list[TreeNode]:
    """Every stored span of a trace as a forest: roots (and orphans) in start order, children likewise.

    LLM call rows are joined onto their spans. An empty list means nothing of that trace is stored.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_TRACE_QUERY, {"trace_id": trace_id.lower()}).fetchall()
    nodes: dict[str, TreeNode] = {}
    for row in rows:
        llm = (
            LlmInfo(
                operation=row["operation"],
                model=row["model"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                status=row["status"],
                error_type=row["error_type"],
            )
            if row["is_llm"]
            else None
        )
        nodes[row["span_id"]] = TreeNode(
            span_id=row["span_id"],
            parent_span_id=row["parent_span_id"],
            name=row["name"],
            start_time=row["start_time"],
            duration_ms=row["duration_ms"],
            kind=row["kind"],
            status_code=row["status_code"],
            status_message=row["status_message"],
            service_name=row["service_name"],
            llm=llm,
        )
    roots: list[TreeNode] = []
    for node in nodes.values():  # in start order, so children lists come out sorted too
        parent = nodes.get(node.parent_span_id) if node.parent_span_id else None
        if parent is None or parent is node:
            node.orphan = bool(node.parent_span_id) and parent is None
            roots.append(node)
        else:
            parent.children.append(node)
    # Spans in a parent cycle (corrupt data) are reachable from no root: list each such cycle at the root level.
    reached = {id(n) for root in roots for n in root.walk()}
    for node in nodes.values():
        if id(node) not in reached:
            cycle_parent = nodes[node.parent_span_id] if node.parent_span_id else None
            if cycle_parent is not None and node in cycle_parent.children:
                cycle_parent.children.remove(node)
            node.orphan = True
            roots.append(node)
            reached.update(id(n) for n in node.walk())
    roots.sort(key=lambda n: (n.start_time, n.span_id))
    return roots


# --- prompt versions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptVersionRow:
    version: str | None
    calls: int
    success_rate: float | None
    """Share of calls with status ok; None for a requested version without calls."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_cost_usd: Decimal | None
    mean_output_tokens: float | None


def compare_prompts(
    conn: Connection,
    prompt_name: str,
    versions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PromptVersionRow]:
    """Side by side figures per version of one prompt (`tokentrail.prompt.name` / `.version`).

    With `versions`, exactly those in that order (zero rows of calls included, so a missing version shows);
    otherwise every version seen, in order of first use.
    """
    _check_range(since, until)
    where = _Where()
    where.add("c.prompt_name = %(prompt_name)s", prompt_name=prompt_name)
    where.time_range(since, until)
    if versions:
        where.add("c.prompt_version = ANY(%(versions)s)", versions=list(versions))
    query = sql.SQL(
        """
        SELECT c.prompt_version AS version,
               count(*) AS calls,
               avg((c.status = 'ok')::int)::float8 AS success_rate,
               percentile_cont(0.50) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY c.duration_ms) AS latency_p95_ms,
               avg(c.cost_usd) AS mean_cost_usd,
               avg(c.output_tokens)::float8 AS mean_output_tokens
        FROM llm_calls AS c{where}
        GROUP BY 1
        ORDER BY min(c.start_time), 1
        """
    ).format(where=where.clause())
    with conn.cursor(row_factory=class_row(PromptVersionRow)) as cur:
        found = cur.execute(query, where.params).fetchall()
    if not versions:
        return found
    by_version = {row.version: row for row in found}
    return [by_version.get(v) or PromptVersionRow(v, 0, None, None, None, None, None) for v in dict.fromkeys(versions)]


# --- retention --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionInfo:
    table: str
    """The partitioned table: `spans`, `llm_calls` or `llm_call_reports`."""
    name: str
    start: datetime
    end: datetime
    rows: int


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    dry_run: bool
    partitions: list[PartitionInfo]
    blobs: int
    """Content blobs deleted (dry run: that would be deleted)."""

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)


MIN_RETENTION: Final = timedelta(days=1)
BLOB_GRACE: Final = timedelta(hours=1)

_PARTITIONS_QUERY: Final = r"""
SELECT parent.relname AS table, child.relname AS name, child.oid AS oid,
       (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS start,
       (regexp_match(pg_get_expr(child.relpartbound, child.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS "end"
FROM pg_inherits AS i
JOIN pg_class AS parent ON parent.oid = i.inhparent
JOIN pg_class AS child ON child.oid = i.inhrelid
JOIN pg_namespace AS ns ON ns.oid = parent.relnamespace
WHERE parent.relname IN ('spans', 'llm_calls', 'llm_call_reports') AND ns.nspname = current_schema()
"""

# Unreferenced blobs past the grace period; `{keep}` restricts which call rows still count as references.
_UNREFERENCED_BLOBS: Final = """
WITH referenced AS MATERIALIZED (
    SELECT DISTINCT v.sha256 FROM (
        SELECT tableoid, system_sha256, input_sha256, output_sha256, tools_sha256 FROM llm_calls
        UNION ALL
        SELECT tableoid, system_sha256, input_sha256, output_sha256, tools_sha256 FROM llm_call_reports
    ) AS c
    CROSS JOIN LATERAL (VALUES (c.system_sha256), (c.input_sha256), (c.output_sha256), (c.tools_sha256)) AS v(sha256)
    WHERE v.sha256 IS NOT NULL{keep}
)
SELECT b.sha256 FROM content_blobs AS b
WHERE b.first_seen < %(grace)s AND NOT EXISTS (SELECT 1 FROM referenced AS r WHERE r.sha256 = b.sha256)
"""


def prune(
    conn: Connection,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    blob_grace: timedelta = BLOB_GRACE,
) -> PruneResult:
    """Drop the daily partitions of `spans` and `llm_calls` that lie entirely before `now - older_than`, then
    delete the content blobs no call references any more.

    Blobs first seen within `blob_grace` are kept: the sink may have stored a body whose call row is not committed
    yet. Blobs locked by a concurrent writer are skipped, never waited for. With `dry_run` nothing changes and the
    result says what would go. Runs in one transaction; refuses `older_than` under one day.
    """
    if older_than < MIN_RETENTION:
        raise ValueError(f"older_than must be at least {MIN_RETENTION.days} day (got {older_than})")
    now = now or datetime.now(timezone.utc)
    cutoff = now - older_than
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(_PARTITIONS_QUERY).fetchall()
        doomed = sorted(
            (row for row in found if row["end"] is not None and row["end"] <= cutoff),
            key=lambda row: (row["start"], row["table"]),
        )
        partitions = [
            PartitionInfo(
                table=row["table"],
                name=row["name"],
                start=row["start"],
                end=row["end"],
                rows=_count(cur, row["name"]),
            )
            for row in doomed
        ]
        grace_cut = now - blob_grace
        if dry_run:
            oids = [int(row["oid"]) for row in doomed]
            query = _UNREFERENCED_BLOBS.format(keep=" AND c.tableoid <> ALL(%(oids)s::oid[])")
            count = cur.execute(f"SELECT count(*) AS n FROM ({query}) AS gone", {"grace": grace_cut, "oids": oids})
            blobs = int(_first(count.fetchone()))
        else:
            cur.execute("SET LOCAL lock_timeout = '30s'")
            for row in doomed:
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(row["name"])))
            # SKIP LOCKED: a blob a concurrent writer is referencing right now (its FK check holds a key-share
            # lock) is left for the next prune instead of failing this one.
            query = _UNREFERENCED_BLOBS.format(keep="") + " FOR UPDATE OF b SKIP LOCKED"
            cur.execute(f"DELETE FROM content_blobs WHERE sha256 IN ({query})", {"grace": grace_cut})
            blobs = cur.rowcount
    return PruneResult(cutoff=cutoff, dry_run=dry_run, partitions=partitions, blobs=blobs)


def _count(cur: psycopg.Cursor[dict[str, Any]], table: str) -> int:
    return int(_first(cur.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))).fetchone()))


def _first(row: dict[str, Any] | None) -> Any:
    if row is None:
        raise RuntimeError("the query returned no row")
    return next(iter(row.values()))
