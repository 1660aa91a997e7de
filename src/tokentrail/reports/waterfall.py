"""One trace as a waterfall: every stored span in tree order, placed on the trace's time line, with the totals.

Built on `tokentrail.reports.trace.trace_tree` (one query): offsets are from the earliest span start, so a bar's
left edge is `offset_ms / wall_ms` of the width and its length `duration_ms / wall_ms`. Totals count the trace's
LLM calls (count_tokens calls are free and their counted tokens are not usage: they are left out of the tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from tokentrail.contract import semconv
from tokentrail.reports.queries import Connection
from tokentrail.reports.trace import LlmInfo, TreeNode, trace_tree

__all__ = ["SpanCategory", "Waterfall", "WaterfallRow", "waterfall"]

SpanCategory = Literal["llm", "server", "workflow", "tool", "agent", "client", "internal"]

_SERVER: Final = 2
_CLIENT: Final = 3
_BY_OPERATION: Final[dict[str, SpanCategory]] = {
    semconv.OP_INVOKE_WORKFLOW: "workflow",
    semconv.OP_EXECUTE_TOOL: "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
}


@dataclass(frozen=True)
class WaterfallRow:
    span_id: str
    parent_span_id: str | None
    name: str
    depth: int
    """0 for roots (and orphans), one more per level below."""
    offset_ms: float
    """Start, in milliseconds after the trace's first span started."""
    duration_ms: float
    category: SpanCategory
    status_code: int
    """OTLP status: 0 unset, 1 ok, 2 error (an LLM call with status error counts as 2)."""
    status_message: str | None
    service_name: str | None
    orphan: bool
    llm: LlmInfo | None


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    start_time: datetime
    wall_ms: float
    """From the first span's start to the last span's end."""
    rows: tuple[WaterfallRow, ...]
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal

    @property
    def spans(self) -> int:
        return len(self.rows)


def _category(node: TreeNode) -> SpanCategory:
    if node.llm is not None:
        return "llm"
    by_operation = _BY_OPERATION.get(node.operation or "")
    if by_operation is not None:
        return by_operation
    if node.kind == _SERVER:
        return "server"
    if node.kind == _CLIENT:
        return "client"
    return "internal"


def waterfall(conn: Connection, trace_id: str) -> Waterfall | None:
    """The stored spans of `trace_id` in tree order (depth first, siblings by start) with offsets and totals, or
    None when nothing of the trace is stored."""
    roots = trace_tree(conn, trace_id)
    if not roots:
        return None
    ordered: list[tuple[TreeNode, int]] = []
    stack = [(root, 0) for root in reversed(roots)]  # depth first without recursion (deep traces)
    while stack:
        node, depth = stack.pop()
        ordered.append((node, depth))
        stack.extend((child, depth + 1) for child in reversed(node.children))
    start = min(node.start_time for node, _ in ordered)
    end_ms = max((node.start_time - start).total_seconds() * 1000 + node.duration_ms for node, _ in ordered)
    rows = tuple(
        WaterfallRow(
            span_id=node.span_id,
            parent_span_id=node.parent_span_id,
            name=node.name,
            depth=depth,
            offset_ms=(node.start_time - start).total_seconds() * 1000,
            duration_ms=node.duration_ms,
            category=_category(node),
            status_code=2 if node.llm is not None and node.llm.status == "error" else node.status_code,
            status_message=node.status_message,
            service_name=node.service_name,
            orphan=node.orphan,
            llm=node.llm,
        )
        for node, depth in ordered
    )
    llms = [row.llm for row in rows if row.llm is not None]
    usage = [llm for llm in llms if llm.operation != "count_tokens"]
    return Waterfall(
        trace_id=trace_id.lower(),
        start_time=start,
        wall_ms=max(end_ms, 0.0),
        rows=rows,
        calls=len(llms),
        errors=sum(1 for llm in llms if llm.status == "error"),
        input_tokens=sum(llm.input_tokens or 0 for llm in usage),
        output_tokens=sum(llm.output_tokens or 0 for llm in usage),
        cost_usd=sum((llm.cost_usd or Decimal(0) for llm in llms), Decimal(0)),
    )
