"""One trace as a tree: every stored span of it, with the typed LLM call rows joined on (SELECT only).

A span whose parent is not stored (an orphan) and a span caught in a parent cycle (corrupt data) are listed at the
root level, so every stored span shows exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final

from psycopg.rows import dict_row

from tokentrail.reports.queries import Connection

__all__ = ["LlmInfo", "TreeNode", "trace_tree"]


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
    operation: str | None = None
    """The span's `gen_ai.operation.name` (invoke_workflow, execute_tool, invoke_agent, chat, ...), when set."""
    scope_name: str | None = None

    def walk(self) -> Iterable[TreeNode]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


_TRACE_QUERY: Final = """
WITH s AS (
    SELECT span_id, parent_span_id, name, start_time, duration_ms, kind, status_code, status_message, service_name,
           attributes ->> 'gen_ai.operation.name' AS span_operation, scope_name
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
       c.span_id IS NOT NULL AS is_llm, coalesce(s.span_operation, c.operation) AS span_operation, s.scope_name,
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
            operation=row["span_operation"],
            scope_name=row["scope_name"],
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
