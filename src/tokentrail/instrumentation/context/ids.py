"""`current_ids()`: the trace and span ids of the current span, as the hex text that logs and headers carry."""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry import trace

__all__ = ["SpanIds", "current_ids"]


class SpanIds(NamedTuple):
    """The ids of a span in W3C trace-context form (lower-case hex)."""

    trace_id: str
    """32 hex digits."""
    span_id: str
    """16 hex digits."""


def current_ids() -> SpanIds | None:
    """The ids of the span current here (an LLM call's, a workflow's, the HTTP request's), or `None` when no valid
    span is current (nothing instrumented, or a no-op tracer)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return SpanIds(trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id))
