"""The reports as people and scripts read them: aligned tables, JSON (a list of objects) or CSV (every field).

One function per report (stats, calls, the export, compare, the trace tree, prune, migrations); how values and
tables read is `tokentrail.reports.formats` (re-exported here).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TextIO

from tokentrail.reports.formats import (
    COST,
    FORMATS,
    INT,
    MS,
    PCT,
    Column,
    clip,
    dash,
    emit,
    emit_or_notice,
    fmt_cost,
    fmt_int,
    fmt_ms,
    fmt_pct,
    fmt_time,
    plain,
)

if TYPE_CHECKING:
    from tokentrail.db.retention import PruneResult
    from tokentrail.reports.queries import CallRow, PromptVersionRow, StatsRow
    from tokentrail.reports.trace import TreeNode

__all__ = [
    "COST",
    "FORMATS",
    "INT",
    "MS",
    "PCT",
    "Column",
    "calls",
    "compare",
    "emit",
    "export",
    "fmt_cost",
    "fmt_int",
    "fmt_ms",
    "fmt_pct",
    "fmt_time",
    "migrations",
    "plain",
    "prune",
    "render_tree",
    "stats",
    "trace",
]


# --- the reports ------------------------------------------------------------------------------------------


def stats(rows: Sequence[StatsRow], by: str | None, fmt: str, out: TextIO | None = None) -> None:
    """Stats rows; grouped rows lead with a column named after the grouping."""
    key_header = by or "key"
    columns = [
        *([Column(key_header, key_header, dash(str))] if by else []),
        Column("calls", "calls", fmt_int, right=True),
        Column("error_rate", "errors", fmt_pct, right=True),
        Column("retried", "retried", fmt_int, right=True),
        Column("input_tokens", "input tok", fmt_int, right=True),
        Column("output_tokens", "output tok", fmt_int, right=True),
        Column("cache_hit_ratio", "cache hit", PCT, right=True),
        Column("counted_tokens", "counted tok", fmt_int, right=True),
        Column("cost_usd", "cost", fmt_cost, right=True),
        Column("latency_mean_ms", "mean", MS, right=True),
        Column("latency_p50_ms", "p50", MS, right=True),
        Column("latency_p95_ms", "p95", MS, right=True),
        Column("latency_p99_ms", "p99", MS, right=True),
        Column("ttfc_p50_ms", "ttfc p50", MS, right=True),
        Column("ttfc_p95_ms", "ttfc p95", MS, right=True),
    ]
    records = []
    for row in rows:
        record = dataclasses.asdict(row)
        key = record.pop("key")
        records.append({key_header: key, **record} if by else record)
    emit_or_notice(records, columns, fmt, "calls in this range", out)


def _status(record: dict[str, Any]) -> str:
    if record["status"] == "error":
        return f"error {record['error_type']}" if record.get("error_type") else "error"
    return str(record["status"])


_CALL_EXTRAS: Final = (
    Column("workflow_name", "workflow", dash(str)),
    Column("call_type", "type", dash(str)),
    Column("prompt_text", "prompt@ver", dash(str)),
    Column("tools_text", "tools", dash(clip(30))),
    Column("attempts", "tries", INT, right=True),
)
"""Table columns shown only when some listed call has a value (a table of plain chat calls stays narrow)."""


def calls(rows: Sequence[CallRow], fmt: str, out: TextIO | None = None) -> None:
    """The call list; the table folds status and error type into one column. JSON and CSV carry every field."""
    records = [dataclasses.asdict(row) for row in rows]
    columns = [
        Column("start_time", "time (UTC)", fmt_time),
        Column("trace_id", "trace"),
        Column("model", "model", dash(str)),
        Column("input_tokens", "in", INT, right=True),
        Column("output_tokens", "out", INT, right=True),
        Column("cost_usd", "cost", COST, right=True),
        Column("duration_ms", "latency", fmt_ms, right=True),
        Column("status_text", "status"),
    ]
    if fmt == "table":
        for record in records:
            record["status_text"] = _status(record)
            if record["prompt_name"] is not None:
                record["prompt_text"] = f"{record['prompt_name']}@{record['prompt_version'] or '?'}"
            if record["tool_names"]:
                record["tools_text"] = ",".join(record["tool_names"])
        columns += [c for c in _CALL_EXTRAS if any(r.get(c.key) is not None for r in records)]
    columns += [Column("error_message", "error", dash(clip(40))), Column("prompt_preview", "prompt", dash(str))]
    emit_or_notice(records, columns, fmt, "calls match", out)


def _portable(value: Any) -> Any:
    """A JSONL value: money as a decimal string (exact), times in ISO 8601; other values as JSON has them."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return str(value)


def export(records: Iterable[dict[str, Any]], fmt: str, out: TextIO | None = None) -> None:
    """Streamed rows (`reports.export.export_calls`): JSONL, one object per line, or CSV with every column
    (lists and objects as JSON text)."""
    out = out or sys.stdout
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, default=_portable, ensure_ascii=False) + "\n")
        return
    writer: csv.DictWriter[str] | None = None
    for record in records:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
        writer.writerow({k: "" if v is None else _csv_value(v) for k, v in record.items()})


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_portable, ensure_ascii=False)
    return _portable(value) if isinstance(value, (Decimal, datetime)) else value


def compare(rows: Sequence[PromptVersionRow], prompt: str, fmt: str, out: TextIO | None = None) -> None:
    """Prompt versions side by side."""
    columns = [
        Column("version", "version", dash(str)),
        Column("calls", "calls", fmt_int, right=True),
        Column("success_rate", "success", PCT, right=True),
        Column("latency_p50_ms", "p50", MS, right=True),
        Column("latency_p95_ms", "p95", MS, right=True),
        Column("mean_cost_usd", "mean cost", COST, right=True),
        Column("mean_output_tokens", "mean out tok", dash(lambda v: f"{float(v):,.1f}"), right=True),
    ]
    records = [dataclasses.asdict(row) for row in rows]
    emit_or_notice(records, columns, fmt, f"calls of prompt {prompt!r} in this range", out)


def trace(trace_id: str, roots: Sequence[TreeNode], fmt: str, out: TextIO | None = None) -> None:
    """A trace: a box-drawn tree, nested JSON objects, or one CSV row per span with its depth."""
    out = out or sys.stdout
    if fmt == "table":
        out.write(render_tree(trace_id, roots))
    elif fmt == "json":
        json.dump([_tree_json(root) for root in roots], out, indent=2)
        out.write("\n")
    else:
        emit(_flatten(roots), [], "csv", out)


def render_tree(trace_id: str, roots: Sequence[TreeNode]) -> str:
    """A trace as box-drawing text: a summary line, then one line per span."""
    nodes = [node for root in roots for node in root.walk()]
    llm_calls = [node.llm for node in nodes if node.llm is not None]
    start = min(node.start_time for node in nodes)
    end = max(node.start_time + timedelta(milliseconds=node.duration_ms) for node in nodes)
    tokens = sum((c.input_tokens or 0) + (c.output_tokens or 0) for c in llm_calls)
    cost = sum((c.cost_usd for c in llm_calls if c.cost_usd is not None), Decimal(0))
    lines = [
        f"trace {trace_id}  {len(nodes)} span{'s' * (len(nodes) != 1)}  "
        f"{fmt_ms((end - start).total_seconds() * 1000)}  "
        f"{len(llm_calls)} LLM call{'s' * (len(llm_calls) != 1)}  {tokens:,} tokens  {fmt_cost(cost)}"
    ]

    def describe(node: TreeNode, parent_service: str | None) -> str:
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
            parts.append(f"error: {clip(60)(node.status_message)}" if node.status_message else "error")
        if node.orphan:
            parts.append(f"(parent {node.parent_span_id} not stored)")
        return "  ".join(parts)

    def walk(node: TreeNode, prefix: str, branch: str, parent_service: str | None) -> None:
        lines.append(prefix + branch + describe(node, parent_service))
        child_prefix = prefix + {"": "", "├── ": "│   ", "└── ": "    "}[branch]
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            walk(child, child_prefix, "└── " if last else "├── ", node.service_name)

    for root in roots:
        walk(root, "", "", None)
    return "\n".join(lines) + "\n"


def _flatten(roots: Sequence[TreeNode]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []

    def visit(node: TreeNode, depth: int) -> None:
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


def _tree_json(node: TreeNode) -> dict[str, Any]:
    record = {k: plain(v) for k, v in dataclasses.asdict(node).items() if k not in ("children", "llm")}
    record["llm"] = {k: plain(v) for k, v in dataclasses.asdict(node.llm).items()} if node.llm else None
    record["children"] = [_tree_json(child) for child in node.children]
    return record


def prune(result: PruneResult, fmt: str, out: TextIO | None = None) -> None:
    """What a prune dropped (or, on a dry run, would drop): partitions with their row counts, then blobs."""
    out = out or sys.stdout
    if fmt == "json":
        summary = {
            "cutoff": plain(result.cutoff),
            "dry_run": result.dry_run,
            "partitions": [{k: plain(v) for k, v in dataclasses.asdict(p).items()} for p in result.partitions],
            "rows": result.rows,
            "blobs": result.blobs,
        }
        json.dump(summary, out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        records = [{**dataclasses.asdict(p), "dry_run": result.dry_run} for p in result.partitions]
        columns = [Column(k, k) for k in ("table", "name", "start", "end", "rows", "dry_run")]
        emit(records, columns, "csv", out)
    else:
        verb = "would drop" if result.dry_run else "dropped"
        out.write(f"cutoff {fmt_time(result.cutoff)} UTC\n")
        for partition in result.partitions:
            out.write(f"{verb} {partition.name} ({partition.rows:,} rows)\n")
        out.write(
            f"{verb} {len(result.partitions)} partitions ({result.rows:,} rows) and "
            f"{result.blobs:,} unreferenced content blobs\n"
        )


def migrations(applied: Sequence[int], out: TextIO | None = None) -> None:
    """The outcome of `db upgrade`: the migrations applied, or that there were none to apply."""
    out = out or sys.stdout
    if applied:
        out.write(f"applied migrations {', '.join(str(v) for v in applied)}\n")
    else:
        out.write("the schema is up to date\n")
