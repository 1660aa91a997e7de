"""One API call, from start to an idempotent end: `LLMCall`, and what the context says about a running call.

An adapter starts a call with `Recorder.start`, makes `LLMCall.context` current while the SDK works, and ends
it with exactly one of `stop` (a response arrived), `fail` (an exception ended the call) or `cut` (a stream
was closed or dropped before its end). Streams report chunks with `chunk()` (time to first chunk) and end
through `end_stream`. Ending a second time is a no-op, from any thread.

The end writes the span attributes of the span contract (`tokentrail.contract.semconv`) from the adapter's
neutral `Response`, the span status, the cost and one metric point. Every telemetry step is guarded on its own:
an internal fault is logged at debug level and swallowed, tokens and cost fail independently, and a successful
call is never marked ERROR because telemetry failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.instrumentation.context.runtime import current_context
from tokentrail.pricing import Cost

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from tokentrail.instrumentation.recorder.metrics import Instruments
    from tokentrail.instrumentation.recorder.recorder import Recorder
    from tokentrail.instrumentation.recorder.records import Accumulator, Request, Response

__all__ = [
    "ACTIVE_CALL_KEY",
    "ActiveCall",
    "LLMCall",
    "active_call",
    "active_span",
    "qualified_name",
]

log = logging.getLogger(__name__)

ACTIVE_CALL_KEY = context_api.create_key("tokentrail.llm-call")
"""Context key holding the `ActiveCall` whose SDK work is running (set only inside `LLMCall.context`)."""

_SPAN_KEY: str = next(iter(trace.set_span_in_context(INVALID_SPAN, context_api.Context())))
"""The key under which the OpenTelemetry API keeps the current span, read off the public API once, so that a
call's context is built in one step (`LLMCall.__init__`)."""

_NOT_ERRORS: tuple[type[BaseException], ...] = (asyncio.CancelledError, GeneratorExit)
"""Exceptions that end a call without making it an error: cancellation and a closed generator."""

_NS_PER_S = 1e9
_CUT_SHORT: tuple[str, ...] = (semconv.FINISH_ERROR,)
_INPUT_TOKENS = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT_TOKENS = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_MAX_DESCRIPTION = 1024


class ActiveCall:
    """What the context of a running call says about it: its span and request, and the SDK's retries so far (no
    link back to the `LLMCall`, whose context holds this: no reference cycle, so a call is freed as soon as it
    ends)."""

    __slots__ = ("failure", "request", "retries", "span")

    def __init__(self, span: Span, request: Request) -> None:
        self.span = span
        self.request = request
        self.retries = 0
        """Failed attempts the SDK retried; the call made `retries + 1` attempts."""
        self.failure: tuple[str | None, int | None] | None = None
        """(error type, HTTP status) of the latest failed attempt, until a retry of it is recorded."""

    def failed(self, error_type: str | None, status: int | None) -> None:
        """An attempt failed in a way the SDK may retry (it decides next)."""
        self.failure = (error_type, status)

    def retrying(self, wait_s: float) -> None:
        """The SDK retries the failed attempt after `wait_s` seconds: one retry event on the span."""
        self.retries += 1
        failure, self.failure = self.failure, None
        attributes: dict[str, AttributeValue] = {semconv.RETRY_ATTEMPT: self.retries, semconv.RETRY_WAIT: wait_s}
        if failure is not None:
            error_type, status = failure
            if error_type:
                attributes[semconv.ERROR_TYPE] = error_type
            if status is not None:
                attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
        span = self.span
        if span.is_recording():
            span.add_event(semconv.RETRY_EVENT, attributes)


def active_call() -> ActiveCall | None:
    """The tokentrail call whose SDK work runs in the current context, if any."""
    call: ActiveCall | None = current_context().get(ACTIVE_CALL_KEY)  # type: ignore[assignment]
    return call


def active_span() -> Span | None:
    """The span of the tokentrail call whose SDK work runs in the current context, if any."""
    call = active_call()
    return None if call is None else call.span


def qualified_name(exc: BaseException) -> str:
    """`module.QualName` of the exception's class, or the bare name for builtins (semconv `error.type` fallback)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class LLMCall:
    """One API call: its span, timing and end. All ending methods are idempotent and never raise."""

    __slots__ = ("_active", "_first_chunk_ns", "_open", "_recorder", "_start_ns", "context", "request", "span")

    def __init__(self, recorder: Recorder, request: Request, span: Span) -> None:
        self._recorder = recorder
        self.request = request
        self.span = span
        self._start_ns = time.perf_counter_ns()
        self._first_chunk_ns: int | None = None
        self._open = [True]  # popped exactly once, atomically, by the first end
        self._active = active = ActiveCall(span, request)
        try:
            # What `set_value(ACTIVE_CALL_KEY, ..., set_span_in_context(span))` builds, in one copy.
            self.context = context_api.Context({**current_context(), _SPAN_KEY: span, ACTIVE_CALL_KEY: active})
        except Exception:  # pragma: no cover - context API failures are not expected
            log.debug("tokentrail: could not build the call context", exc_info=True)
            self.context = context_api.get_current()

    @property
    def ended(self) -> bool:
        return not self._open

    def capture_request(self, params: Mapping[str, Any]) -> None:
        """Record the request's content (`system`, `messages`, `tools`) by the content policy, after the start:
        for adapters that learn it once the call is running (`tokentrail.llm_call`)."""
        content = self._recorder._content
        if content is None or not self._open or not self.span.is_recording():
            return
        try:
            attributes = content.request_attributes(params)
            if attributes:
                self.span.set_attributes(attributes)
        except Exception:
            log.debug("tokentrail: could not capture the request content", exc_info=True)

    def chunk(self) -> None:
        """A content chunk arrived (the first one sets the time to first chunk)."""
        if self._first_chunk_ns is None:
            self._first_chunk_ns = time.perf_counter_ns()

    def stop(self, response: Response | None) -> None:
        """The call succeeded with `response` (or with nothing known about it)."""
        self._end(response, None, cut=False)

    def fail(self, error: BaseException, response: Response | None = None) -> None:
        """The call ended with `error` (cancellation and closed generators are not errors)."""
        self._end(response, error, cut=True)

    def cut(self, response: Response | None) -> None:
        """A stream ended before its last event without an exception (closed early or dropped)."""
        self._end(response, None, cut=True)

    def end_stream(self, accumulator: Accumulator, error: BaseException | None = None) -> None:
        """End a streamed call from what `accumulator` saw: complete, cut short, or failed with `error`."""
        if not self._open:
            return
        response: Response | None
        try:
            response = accumulator.response()
            complete = accumulator.complete
        except Exception:
            log.debug("tokentrail: could not summarise a stream", exc_info=True)
            response, complete = None, False
        if error is not None:
            self._end(response, error, cut=True)
        else:
            self._end(response, None, cut=not complete)

    # -- the one place a call ends -------------------------------------------------------------------------

    def _end(self, response: Response | None, error: BaseException | None, *, cut: bool) -> None:
        try:
            self._open.pop()
        except IndexError:
            return  # already ended
        end_ns = time.perf_counter_ns()
        end_time = time.time_ns()  # the span ends when the call did: pricing and content come after, not inside
        recorder = self._recorder
        span = self.span
        request = self.request
        error_type: str | None = None
        if error is not None and not isinstance(error, _NOT_ERRORS):
            try:
                error_type = recorder._error_type(error)
            except Exception:
                log.debug("tokentrail: could not classify an error", exc_info=True)
                error_type = qualified_name(error)
        recording = span.is_recording()
        attributes: dict[str, AttributeValue]
        cost: Cost | None = None
        if response is not None:
            # The adapter's attributes become the end's attributes (owned by the call): no copy.
            given = response.attributes
            attributes = {} if given is None else given
            if response.id:
                attributes[semconv.GEN_AI_RESPONSE_ID] = response.id
            if response.model:
                attributes[semconv.GEN_AI_RESPONSE_MODEL] = response.model
            if cut:
                attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = _CUT_SHORT
            elif response.finish_reason:
                attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (response.finish_reason,)
            if request.billable and recorder._pricebook is not None:
                try:
                    cost = self._cost(response)
                except Exception:
                    log.debug("tokentrail: could not price the call", exc_info=True)
                if cost is not None:
                    attributes[semconv.COST_USD] = cost.usd
                    attributes[semconv.COST_SOURCE] = cost.source
            content = recorder._content
            if content is not None and response.message is not None and recording:
                try:
                    content.response_attributes(response.message, attributes)
                except Exception:
                    log.debug("tokentrail: could not capture the response content", exc_info=True)
        else:
            attributes = {semconv.GEN_AI_RESPONSE_FINISH_REASONS: _CUT_SHORT} if cut else {}
        first = self._first_chunk_ns
        if first is not None:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (first - self._start_ns) / _NS_PER_S
        if error_type is not None:
            attributes[semconv.ERROR_TYPE] = error_type
        retries = self._active.retries
        if retries:
            attributes[semconv.REQUEST_ATTEMPTS] = retries + 1
        try:
            if attributes and recording:
                span.set_attributes(attributes)
            if error_type is not None and error is not None:
                span.set_status(Status(StatusCode.ERROR, _describe(recorder._describe_error, error, error_type)))
        except Exception:
            log.debug("tokentrail: could not write the span attributes", exc_info=True)
        try:
            span.end(end_time)
        except Exception:
            log.debug("tokentrail: could not end the span", exc_info=True)
        instruments = recorder._instruments
        if instruments is not None:
            try:
                self._record_metrics(instruments, response, attributes, cost=cost, error_type=error_type, end_ns=end_ns)
            except Exception:
                log.debug("tokentrail: could not record the metrics", exc_info=True)

    def _cost(self, response: Response) -> Cost | None:
        pricebook = self._recorder._pricebook
        if pricebook is None:
            return None
        request = self.request
        batch = request.batch
        provider = request.provider
        if response.usage_by_model is not None:
            total = 0.0
            source: str | None = None
            for model, counts in response.usage_by_model.items():
                priced = pricebook.cost(model, counts, batch=batch, provider=provider)
                if priced is None:
                    return None  # a partial sum would understate the spend
                total += priced.usd
                source = priced.source
            return None if source is None else Cost(usd=total, source=source)
        usage = response.usage
        if usage is None:
            return None
        priced_model = response.model or request.model
        if not priced_model:
            return None
        return pricebook.cost(priced_model, usage, batch=batch, provider=provider)

    def _record_metrics(
        self,
        instruments: Instruments,
        response: Response | None,
        attributes: dict[str, AttributeValue],
        *,
        cost: Cost | None,
        error_type: str | None,
        end_ns: int,
    ) -> None:
        request = self.request
        start = self._start_ns
        first = self._first_chunk_ns
        input_tokens = output_tokens = None
        if response is not None and request.billable:
            value = attributes.get(_INPUT_TOKENS)
            input_tokens = value if type(value) is int else None
            value = attributes.get(_OUTPUT_TOKENS)
            output_tokens = value if type(value) is int else None
        instruments.pump.submit(
            (
                instruments.attributes(request, response.model if response is not None else None, error_type),
                (end_ns - start) / _NS_PER_S,
                None if first is None else (first - start) / _NS_PER_S,
                input_tokens,
                output_tokens,
                cost.usd if cost is not None else None,
            )
        )


def _describe(describe: Callable[[BaseException], str], error: BaseException, error_type: str) -> str:
    try:
        text = describe(error)
    except Exception:
        text = ""
    text = text or error_type
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"
