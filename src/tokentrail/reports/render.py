"""The reports as people and scripts read them: aligned tables, JSON (a list of objects) or CSV (every field).

Formatting of money, durations, shares and times lives here once, so the CLI and the web UI show the same figures
the same way. JSON and CSV carry numbers as numbers and times in ISO 8601 (UTC); a table shows `-` for a missing
value. An empty table writes a one-line "no ..." notice on stderr (stdout stays empty); JSON and CSV write an empty
list or a header line.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TextIO

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

FORMATS: Final = ("table", "json", "csv")
"""Every report's formats; the call list also streams `jsonl` (`export`)."""


# --- values -----------------------------------------------------------------------------------------------


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


def _dash(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: "-" if value is None else show(value)


def _clip(limit: int) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        text = " ".join(str(value).split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return show


INT = _dash(fmt_int)
MS = _dash(fmt_ms)
COST = _dash(fmt_cost)
PCT = _dash(fmt_pct)


def plain(value: Any) -> Any:
    """A value as JSON/CSV carry it: numbers as numbers, times in ISO 8601."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


# --- tables, JSON, CSV ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    show: Callable[[Any], str] = str
    right: bool = False


def emit(records: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, out: TextIO | None = None) -> None:
    """Write records as an aligned table (the given columns), JSON (a list of objects) or CSV (every key)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump([{k: plain(v) for k, v in r.items()} for r in records], out, indent=2, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        fields = list(records[0]) if records else [c.key for c in columns]
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else plain(v) for k, v in record.items()})
        return
    cells = [[c.header for c in columns]] + [[c.show(r.get(c.key)) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        line = "  ".join(
            text.rjust(width) if column.right else text.ljust(width)
            for text, width, column in zip(row, widths, columns, strict=True)
        )
        out.write(line.rstrip() + "\n")


def _emit_or_notice(
    records: Sequence[dict[str, Any]], columns: Sequence[Column], fmt: str, what: str, out: TextIO | None
) -> None:
    if not records and fmt == "table":
        print(f"no {what}", file=sys.stderr)
    else:
        emit(records, columns, fmt, out)


# --- the reports ------------------------------------------------------------------------------------------


def stats(rows: Sequence[StatsRow], by: str | None, fmt: str, out: TextIO | None = None) -> None:
    """Stats rows; grouped rows lead with a column named after the grouping."""
    key_header = by or "key"
    columns = [
        *([Column(key_header, key_header, _dash(str))] if by else []),
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
    _emit_or_notice(records, columns, fmt, "calls in this range", out)


def _status(record: dict[str, Any]) -> str:
    if record["status"] == "error":
        return f"error {record['error_type']}" if record.get("error_type") else "error"
    return str(record["status"])


_CALL_EXTRAS: Final = (
    Column("workflow_name", "workflow", _dash(str)),
    Column("call_type", "type", _dash(str)),
    Column("prompt_text", "prompt@ver", _dash(str)),
    Column("tools_text", "tools", _dash(_clip(30))),
    Column("attempts", "tries", INT, right=True),
)
"""Table columns shown only when some listed call has a value (a table of plain chat calls stays narrow)."""


def calls(rows: Sequence[CallRow], fmt: str, out: TextIO | None = None) -> None:
    """The call list; the table folds status and error type into one column. JSON and CSV carry every field."""
    records = [dataclasses.asdict(row) for row in rows]
    columns = [
        Column("start_time", "time (UTC)", fmt_time),
        Column("trace_id", "trace"),
        Column("model", "model", _dash(str)),
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
    columns += [Column("error_message", "error", _dash(_clip(40))), Column("prompt_preview", "prompt", _dash(str))]
    _emit_or_notice(records, columns, fmt, "calls match", out)


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
        Column("version", "version", _dash(str)),
        Column("calls", "calls", fmt_int, right=True),
        Column("success_rate", "success", PCT, right=True),
        Column("latency_p50_ms", "p50", MS, right=True),
        Column("latency_p95_ms", "p95", MS, right=True),
        Column("mean_cost_usd", "mean cost", COST, right=True),
        Column("mean_output_tokens", "mean out tok", _dash(lambda v: f"{float(v):,.1f}"), right=True),
    ]
    records = [dataclasses.asdict(row) for row in rows]
    _emit_or_notice(records, columns, fmt, f"calls of prompt {prompt!r} in this range", out)


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
            parts.append(f"error: {_clip(60)(node.status_message)}" if node.status_message else "error")
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
