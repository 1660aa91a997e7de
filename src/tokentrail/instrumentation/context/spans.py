"""The workflow span: `workflow()`'s scope runs an INTERNAL `invoke_workflow {name}` span.

It follows the GenAI semantic conventions' "Invoke workflow" span; an exception is recorded with `error.type` and
ERROR status (cancellation and generator shutdown are not errors). The span comes from the provider
`tokentrail.instrument()` set, else from the global one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.instrumentation.context.scope import AttributeScope, with_attributes

__all__ = ["WorkflowScope", "set_tracer_provider"]

log = logging.getLogger(__name__)

_tracer_provider: trace.TracerProvider | None = None
_tracer_cache: tuple[trace.TracerProvider, trace.Tracer] | None = None


def set_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """The provider `workflow` spans use (`tokentrail.instrument()` sets it); None means the global provider."""
    global _tracer_provider, _tracer_cache
    _tracer_provider = provider
    _tracer_cache = None


def _tracer() -> trace.Tracer:
    global _tracer_cache
    provider = _tracer_provider or trace.get_tracer_provider()
    cached = _tracer_cache
    if cached is not None and cached[0] is provider:
        return cached[1]
    from tokentrail._version import __version__

    tracer = provider.get_tracer("tokentrail", __version__)
    _tracer_cache = (provider, tracer)
    return tracer


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _is_error(exc: BaseException | None) -> bool:
    """Cancellation and generator shutdown end a scope early but are not errors."""
    return exc is not None and not isinstance(exc, asyncio.CancelledError | GeneratorExit)


class WorkflowScope(AttributeScope):
    """`AttributeScope` that also runs an INTERNAL `invoke_workflow {name}` span."""

    __slots__ = ("name",)

    def __init__(self, name: str, updates: Mapping[str, AttributeValue], tags: tuple[str, ...] = ()) -> None:
        super().__init__({**updates, semconv.WORKFLOW_NAME: name}, tags)
        self.name = name

    def _open(self) -> tuple[otel_context.Context, Span | None]:
        parent = otel_context.get_current()
        merged = self._merged(parent)
        span: Span | None = None
        ctx = parent
        try:
            attributes = dict(merged)
            attributes.pop(semconv.CALL_TYPE, None)  # labels the LLM calls inside, not the workflow
            attributes[semconv.GEN_AI_OPERATION_NAME] = semconv.OP_INVOKE_WORKFLOW
            span = _tracer().start_span(
                semconv.span_name(semconv.OP_INVOKE_WORKFLOW, self.name),
                context=parent,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
            )
            ctx = trace.set_span_in_context(span, parent)
        except Exception:
            log.debug("tokentrail: could not start the workflow span %r", self.name, exc_info=True)
        return with_attributes(merged, ctx), span

    def _close(self, span: Span | None, exc: BaseException | None) -> None:
        if span is None:
            return
        try:
            if _is_error(exc):
                assert exc is not None
                span.set_attribute(semconv.ERROR_TYPE, _error_type(exc))
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        except Exception:
            log.debug("tokentrail: could not end the workflow span %r", self.name, exc_info=True)
