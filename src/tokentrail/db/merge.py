"""One call, one row: the LLM spans of a trace that describe the same API call, merged into one `llm_calls` row.

An application on an SDK that traces its own calls (anthropic 1.14+) and also runs a peer instrumentation
(OpenLLMetry, OpenInference, the official genai-anthropic, ...) reports each call twice: the peer's span around the
SDK method, and the SDK's span inside it, both with the call's tokens. Stored as two rows, every cost report would
show close to twice the real spend. This module decides which reports are the same call and merges them; it is
pure (no I/O), so that the answer depends only on the set of reports, never on the order they arrived in.

Two reports are the same call when all of these hold:
- they come from different sources (no instrumentation reports one call twice) and name the same operation;
- they carry the same `gen_ai.response.id`; or, when either lacks one, their request models do not differ and
  either one span is an ancestor of the other (the peer's span encloses the SDK's) and the inner one starts within
  the outer one, or both have the same parent and one runs within the other (a peer that does not make its span
  current, so that the SDK's span is its sibling); with a second of clock slack for nesting, 10 ms for siblings.

Calls that really are separate stay separate: an application's retry is a second peer span with its own SDK span,
two calls back to back are siblings, the agent loop's turns each have their own pair. A group holds at most one
report of each source; where a report could join several, the closest wins (a shared response id, then the
nearest ancestor, then the sibling closest in time, then the more trusted source and the earlier start).

The merged row: its key, times and service are those of the report from the most trusted source (`PRIORITY`);
tokens and cost come together from the most trusted report that has tokens (never summed); every other column is
the first value present in priority order; `status` is `error` if any report says so; `attributes` are the union
(the more trusted report's value wins); `sources` lists every source and `member_span_ids` every span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

import orjson

from tokentrail.db.rows import LlmCallRow

__all__ = ["PRIORITY", "merge_calls"]

PRIORITY: Final = (
    "tokentrail",
    "anthropic-sdk",
    "otel-genai",
    "openinference",
    "openllmetry",
    "logfire",
    "openlit",
)
"""Sources from the most trusted to the least: tokentrail's contract, the vendor's own spans, then the peers."""

_SLACK: Final = timedelta(seconds=1)
_SIBLING_SLACK: Final = timedelta(milliseconds=10)
"""Two spans of one process share a clock: a sibling must run within the other almost exactly."""
_MAX_DEPTH: Final = 16
_TOKEN_COLUMNS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_source",
)
_KEY_COLUMNS: Final = ("trace_id", "span_id", "parent_span_id", "start_time", "duration_ms", "source")
_SPECIAL: Final = frozenset(
    (*_TOKEN_COLUMNS, *_KEY_COLUMNS, "status", "attributes", "sources", "member_span_ids", "content_truncated")
)
_COALESCED: Final = tuple(name for name in LlmCallRow._fields if name not in _SPECIAL)


def _rank(row: LlmCallRow) -> tuple[int, object, str]:
    source = PRIORITY.index(row.source) if row.source in PRIORITY else len(PRIORITY)
    return source, row.start_time, row.span_id


def _depth(inner: LlmCallRow, outer: LlmCallRow, parents: Mapping[str, str | None]) -> int | None:
    """How many steps up from `inner` `outer` is (1: its parent), or None when it is not an ancestor."""
    current = inner.parent_span_id
    for depth in range(1, _MAX_DEPTH + 1):
        if current is None:
            return None
        if current == outer.span_id:
            return depth
        current = parents.get(current)
    return None


def _end(row: LlmCallRow) -> datetime:
    return row.start_time + timedelta(milliseconds=row.duration_ms)


def _starts_within(outer: LlmCallRow, inner: LlmCallRow, slack: timedelta = _SLACK) -> bool:
    return outer.start_time - slack <= inner.start_time <= _end(outer) + slack


def _within(outer: LlmCallRow, inner: LlmCallRow) -> bool:
    return _starts_within(outer, inner, _SIBLING_SLACK) and _end(inner) <= _end(outer) + _SIBLING_SLACK


_SHARED_ID, _NESTED, _SIBLINGS = 0, 1, 2


def _closeness(a: LlmCallRow, b: LlmCallRow, parents: Mapping[str, str | None]) -> tuple[int, int] | None:
    """How surely `a` and `b` are one call (lower is surer), or None when they are not.

    A shared response id is surest; then one span enclosing the other (by ancestry distance); then two spans of
    one parent, one running within the other (by how far their starts and ends are apart): the shape of a peer
    that does not make its span current, so that the SDK's span is its sibling."""
    if a.source == b.source or a.operation != b.operation:
        return None
    if a.response_id and b.response_id:
        return (_SHARED_ID, 0) if a.response_id == b.response_id else None
    if a.request_model and b.request_model and a.request_model != b.request_model:
        return None
    for inner, outer in ((a, b), (b, a)):
        depth = _depth(inner, outer, parents)
        if depth is not None and _starts_within(outer, inner):
            return _NESTED, depth
    if a.parent_span_id == b.parent_span_id and (_within(a, b) or _within(b, a)):
        gap = abs(a.start_time - b.start_time) + abs(_end(a) - _end(b))
        return _SIBLINGS, gap // timedelta(microseconds=1)
    return None


def merge_calls(reports: Sequence[LlmCallRow], parents: Mapping[str, str | None]) -> list[LlmCallRow]:
    """The `llm_calls` rows of one trace's LLM span reports: one per API call.

    `parents` maps the trace's span ids to their parents (the stored spans); the reports' own parents are used
    too. The result does not depend on the order of `reports`; a report that matches no other is returned as
    it came (with `sources` and `member_span_ids` filled)."""
    ordered = sorted({(r.trace_id, r.span_id, r.start_time): r for r in reports}.values(), key=_rank)
    links = {**parents, **{r.span_id: r.parent_span_id for r in ordered}}
    edges: list[tuple[tuple[int, int], int, int]] = []
    for i, a in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            closeness = _closeness(a, ordered[j], links)
            if closeness is not None:
                edges.append((closeness, i, j))
    edges.sort()
    group_of = list(range(len(ordered)))
    members: dict[int, list[int]] = {i: [i] for i in range(len(ordered))}
    for _, i, j in edges:
        gi, gj = group_of[i], group_of[j]
        if gi == gj:
            continue
        if {ordered[k].source for k in members[gi]} & {ordered[k].source for k in members[gj]}:
            continue  # one report per source and call
        keep, gone = min(gi, gj), max(gi, gj)
        for k in members.pop(gone):
            group_of[k] = keep
            members[keep].append(k)
    return [_merged([ordered[k] for k in sorted(group)]) for _, group in sorted(members.items())]


def _merged(group: list[LlmCallRow]) -> LlmCallRow:
    primary = group[0]
    if len(group) == 1:
        return primary._replace(sources=[primary.source], member_span_ids=None)
    values = primary._asdict()
    for name in _COALESCED:
        values[name] = next((getattr(r, name) for r in group if getattr(r, name) is not None), None)
    counted = next((r for r in group if r.input_tokens is not None or r.output_tokens is not None), primary)
    for name in _TOKEN_COLUMNS:
        values[name] = getattr(counted, name)
    if counted.cost_usd is None:
        priced = next((r for r in group if r.cost_usd is not None), None)
        if priced is not None:
            values["cost_usd"], values["cost_source"] = priced.cost_usd, priced.cost_source
    values["status"] = "error" if any(r.status == "error" for r in group) else primary.status
    values["content_truncated"] = any(r.content_truncated for r in group)
    attributes: dict[str, object] = {}
    for row in reversed(group):
        loaded = orjson.loads(row.attributes)
        if isinstance(loaded, dict):
            attributes.update(loaded)
    values["attributes"] = orjson.dumps(attributes).decode()
    values["sources"] = [r.source for r in group]
    values["member_span_ids"] = [r.span_id for r in group]
    return LlmCallRow(**values)
