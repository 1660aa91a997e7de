"""The recorder: one `LLMCall` per API call, from start to an idempotent end.

An adapter (the Anthropic instrumentor) describes a call with a `Request` record, starts it with
`Recorder.start`, makes `LLMCall.context` current while the SDK works, and ends it with exactly one of
`stop` (a response arrived), `fail` (an exception ended the call) or `cut` (a stream was closed or dropped
before its end). Streams report chunks with `chunk()` (time to first chunk) and end through `end_stream`.
Ending a second time is a no-op, from any thread.

The recorder writes the span attributes of the span contract (`tokentrail.contract.semconv`), the span status, the
GenAI client metrics and the cost. Every telemetry step is guarded on its own: an internal fault is logged at
debug level and swallowed, tokens and cost fail independently, and a successful call is never marked ERROR
because telemetry failed. No I/O, no SDK imports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder.metricpump import MetricPump
from tokentrail.pricing import Cost, Usage

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Span, Tracer

    from tokentrail.instrumentation.recorder.content import ContentPolicy
    from tokentrail.pricing import PriceBook

__all__ = [
    "ACTIVE_CALL_KEY",
    "Accumulator",
    "ActiveCall",
    "LLMCall",
    "Recorder",
    "Request",
    "Response",
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
_PROVIDER = anthropic_contract.PROVIDER


class ActiveCall:
    """What the context of a running call says about it: its span and request (no link back to the `LLMCall`,
    whose context holds this: no reference cycle, so a call is freed as soon as it ends)."""

    __slots__ = ("request", "span")

    def __init__(self, span: Span, request: Request) -> None:
        self.span = span
        self.request = request


def active_call() -> ActiveCall | None:
    """The tokentrail call whose SDK work runs in the current context, if any."""
    call: ActiveCall | None = context_api.get_value(ACTIVE_CALL_KEY)  # type: ignore[assignment]
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


@dataclass(slots=True)
class Request:
    """What is known about a call when it starts."""

    operation: str
    """`gen_ai.operation.name` (`semconv.OP_*`)."""
    model: str | None
    attributes: dict[str, AttributeValue]
    """Request-side span attributes (operation, provider, model, server, params); owned by the call from now on."""
    stream: bool = False
    params: Mapping[str, Any] | None = None
    """The request's content (`system`, `messages`, `tools`) for the content policy; `None` when there is none."""
    billable: bool = True
    """False for calls that consume no tokens (token counting): no token metrics and no cost."""
    batch: bool = False
    """Price with the batch discount."""
    server_address: str | None = None
    server_port: int | None = None
    signed: bool = False
    """The client signs or authorises each request after building it (Bedrock, Vertex, ...): trace headers must
    be added after that step (see `instrumentation.anthropic.native`)."""


@dataclass(slots=True)
class Response:
    """What is known about a call's result. Token fields are `None` when the response does not say."""

    id: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    """Uncached input tokens (Anthropic `usage.input_tokens`)."""
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    service_tier: str | None = None
    message: Any = None
    """The final message (SDK object or plain dict) for the content policy's output messages."""
    attributes: dict[str, AttributeValue] | None = None
    """Extra span attributes (batch id, ...)."""
    usage_by_model: dict[str, Usage] | None = field(default=None)
    """Usage per model for calls that span several models (batch results); priced model by model."""

    @property
    def has_usage(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


class Accumulator(Protocol):
    """Builds a `Response` from the items of a stream (events, batch results)."""

    @property
    def complete(self) -> bool:
        """True once the stream's end event arrived (a stream closed before that was cut short)."""
        ...

    def add(self, item: Any) -> bool:
        """Account for one item; True when it is a content chunk (time to first chunk)."""
        ...

    def finish(self) -> None:
        """The stream was read to its end (an accumulator without an end event becomes complete here)."""
        ...

    def response(self) -> Response:
        """What the items so far say."""
        ...


_MetricAttributes = dict[str, AttributeValue]
_AttributeSets = tuple[_MetricAttributes, _MetricAttributes, _MetricAttributes]
_MAX_ATTRIBUTE_SETS = 1024


_Point = tuple[_AttributeSets, float, "float | None", "int | None", "int | None", "float | None"]
"""One call's metric values: (attribute sets, duration s, time to first chunk s, input tokens, output tokens, USD)."""


class _Instruments:
    """The metric instruments of one recorder (created once per instrumentor) and its attribute sets.

    Metric attribute sets repeat (a few models and endpoints), so each is built once and reused; the SDK
    copies the attributes it keeps, and nothing here mutates a set after it is built. A call's values are
    queued as one `_Point` and recorded off the caller's thread by a `MetricPump` (see `_metricpump`).
    """

    __slots__ = ("_attribute_sets", "cost", "duration", "pump", "time_to_first_chunk", "token_usage")

    def attributes(self, request: Request, response_model: str | None, error_type: str | None) -> _AttributeSets:
        """(operation attributes, input-token attributes, output-token attributes) for a call."""
        key = (
            request.operation,
            request.model,
            response_model,
            request.server_address,
            request.server_port,
            error_type,
        )
        found = self._attribute_sets.get(key)
        if found is not None:
            return found
        attrs: _MetricAttributes = {
            semconv.GEN_AI_OPERATION_NAME: request.operation,
            semconv.GEN_AI_PROVIDER_NAME: _PROVIDER,
        }
        if request.model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = request.model
        if response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = response_model
        if request.server_address:
            attrs[semconv.SERVER_ADDRESS] = request.server_address
            if request.server_port is not None:
                attrs[semconv.SERVER_PORT] = request.server_port
        if error_type is not None:
            attrs[semconv.ERROR_TYPE] = error_type
        found = (
            attrs,
            {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT},
            {**attrs, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT},
        )
        if len(self._attribute_sets) >= _MAX_ATTRIBUTE_SETS:
            self._attribute_sets.clear()
        self._attribute_sets[key] = found
        return found

    def __init__(self, meter: Meter) -> None:
        self._attribute_sets: dict[tuple[str | int | None, ...], _AttributeSets] = {}
        self.token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=semconv.TOKEN_USAGE_BUCKETS,
        )
        self.duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=semconv.DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=semconv.TIME_TO_FIRST_CHUNK_BUCKETS,
        )
        self.cost = meter.create_counter(
            semconv.METRIC_COST,
            unit="USD",
            description="Cost of GenAI calls in US dollars",
        )
        self.pump = MetricPump(meter, self.record)

    def record(self, point: _Point) -> None:
        """Record one call's values (on the pump's thread, or at collection)."""
        (attrs, input_attrs, output_attrs), duration, first_chunk, input_tokens, output_tokens, usd = point
        self.duration.record(duration, attrs)
        if first_chunk is not None:
            self.time_to_first_chunk.record(first_chunk, attrs)
        if input_tokens is not None:
            self.token_usage.record(input_tokens, input_attrs)
        if output_tokens is not None:
            self.token_usage.record(output_tokens, output_attrs)
        if usd is not None:
            self.cost.add(usd, attrs)


def _no_context_attributes() -> Mapping[str, AttributeValue]:
    return {}


class Recorder:
    """Per-instrumentor state (tracer, instruments, price book, content policy) and the factory of `LLMCall`s."""

    __slots__ = (
        "_content",
        "_context_attributes",
        "_describe_error",
        "_error_type",
        "_instruments",
        "_pricebook",
        "_tracer",
    )

    def __init__(
        self,
        tracer: Tracer,
        meter: Meter | None = None,
        *,
        pricebook: PriceBook | None = None,
        content: ContentPolicy | None = None,
        context_attributes: Callable[[], Mapping[str, AttributeValue]] | None = None,
        error_type: Callable[[BaseException], str] = qualified_name,
        describe_error: Callable[[BaseException], str] = str,
    ) -> None:
        self._tracer = tracer
        self._instruments = _Instruments(meter) if meter is not None else None
        self._pricebook = pricebook
        self._content = content if content is not None and content.enabled else None
        self._context_attributes = context_attributes or _no_context_attributes
        self._error_type = error_type
        self._describe_error = describe_error

    def start(self, request: Request) -> LLMCall:
        """Start the span of a call (not made current: attach `LLMCall.context` around the SDK's work).

        Never raises; when the tracer fails the call records nothing but still behaves.
        """
        attributes = request.attributes
        try:
            app = self._context_attributes()
            if app:
                attributes.update(app)
        except Exception:
            log.debug("tokentrail: could not read the application context attributes", exc_info=True)
        content = self._content
        if content is not None and request.params is not None:
            try:
                attributes.update(content.request_attributes(request.params))
            except Exception:
                log.debug("tokentrail: could not capture the request content", exc_info=True)
        try:
            span = self._tracer.start_span(
                semconv.span_name(request.operation, request.model), kind=SpanKind.CLIENT, attributes=attributes
            )
        except Exception:
            log.debug("tokentrail: could not start a span", exc_info=True)
            span = INVALID_SPAN
        return LLMCall(self, request, span)

    def close(self) -> None:
        """Record every queued metric point and stop the background recording (uninstrument)."""
        if self._instruments is not None:
            self._instruments.pump.close()


class LLMCall:
    """One API call: its span, timing and end. All ending methods are idempotent and never raise."""

    __slots__ = ("_first_chunk_ns", "_open", "_recorder", "_start_ns", "context", "request", "span")

    def __init__(self, recorder: Recorder, request: Request, span: Span) -> None:
        self._recorder = recorder
        self.request = request
        self.span = span
        self._start_ns = time.perf_counter_ns()
        self._first_chunk_ns: int | None = None
        self._open = [True]  # popped exactly once, atomically, by the first end
        try:
            # What `set_value(ACTIVE_CALL_KEY, ..., set_span_in_context(span))` builds, in one copy.
            self.context = context_api.Context(
                {**context_api.get_current(), _SPAN_KEY: span, ACTIVE_CALL_KEY: ActiveCall(span, request)}
            )
        except Exception:  # pragma: no cover - context API failures are not expected
            log.debug("tokentrail: could not build the call context", exc_info=True)
            self.context = context_api.get_current()

    @property
    def ended(self) -> bool:
        return not self._open

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
        attributes: dict[str, AttributeValue] = {}
        cost: Cost | None = None
        if response is not None:
            if recording:
                try:
                    self._response_attributes(response, attributes, cut=cut)
                except Exception:
                    log.debug("tokentrail: could not record the response", exc_info=True)
                try:
                    self._usage_attributes(response, attributes)
                except Exception:
                    log.debug("tokentrail: could not record the token usage", exc_info=True)
            if request.billable:
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
                    attributes.update(content.response_attributes(response.message))
                except Exception:
                    log.debug("tokentrail: could not capture the response content", exc_info=True)
        elif cut and recording:
            attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (semconv.FINISH_ERROR,)
        first = self._first_chunk_ns
        if first is not None and recording:
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (first - self._start_ns) / _NS_PER_S
        if error_type is not None:
            attributes[semconv.ERROR_TYPE] = error_type
        try:
            if attributes and recording:
                span.set_attributes(attributes)
            if error_type is not None and error is not None:
                span.set_status(Status(StatusCode.ERROR, _describe(recorder._describe_error, error, error_type)))
        except Exception:
            log.debug("tokentrail: could not write the span attributes", exc_info=True)
        try:
            span.end()
        except Exception:
            log.debug("tokentrail: could not end the span", exc_info=True)
        if recorder._instruments is not None:
            try:
                self._record_metrics(recorder._instruments, response, cost, error_type, end_ns)
            except Exception:
                log.debug("tokentrail: could not record the metrics", exc_info=True)

    def _response_attributes(self, response: Response, out: dict[str, AttributeValue], *, cut: bool) -> None:
        if response.id:
            out[semconv.GEN_AI_RESPONSE_ID] = response.id
        if response.model:
            out[semconv.GEN_AI_RESPONSE_MODEL] = response.model
        stop_reason = response.stop_reason
        if stop_reason:
            out[anthropic_contract.STOP_REASON] = stop_reason
        if cut:
            out[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (semconv.FINISH_ERROR,)
        elif stop_reason:
            out[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = (
                anthropic_contract.STOP_REASON_TO_FINISH.get(stop_reason, stop_reason),
            )
        if response.service_tier:
            out[anthropic_contract.SERVICE_TIER] = response.service_tier
        if response.attributes:
            out.update(response.attributes)

    @staticmethod
    def _usage_attributes(response: Response, out: dict[str, AttributeValue]) -> None:
        uncached = response.input_tokens
        read = response.cache_read_tokens
        w5 = response.cache_write_5m_tokens
        w1 = response.cache_write_1h_tokens
        if uncached is not None:
            out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = uncached + (read or 0) + (w5 or 0) + (w1 or 0)
        if response.output_tokens is not None:
            out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = response.output_tokens
        if read is not None:
            out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
        if w5 is not None or w1 is not None:
            written = (w5 or 0) + (w1 or 0)
            out[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = written
            if written:  # the TTL breakdown only when something was written
                out[anthropic_contract.CACHE_WRITE_5M] = w5 or 0
                out[anthropic_contract.CACHE_WRITE_1H] = w1 or 0
        if response.reasoning_tokens is not None:
            out[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = response.reasoning_tokens

    def _cost(self, response: Response) -> Cost | None:
        pricebook = self._recorder._pricebook
        if pricebook is None:
            return None
        batch = self.request.batch
        if response.usage_by_model is not None:
            total = 0.0
            source: str | None = None
            for model, usage in response.usage_by_model.items():
                priced = pricebook.cost(model, usage, batch=batch, provider=_PROVIDER)
                if priced is None:
                    return None  # a partial sum would understate the spend
                total += priced.usd
                source = priced.source
            return None if source is None else _cost_record(total, source)
        if not response.has_usage:
            return None
        priced_model = response.model or self.request.model
        if not priced_model:
            return None
        return pricebook.cost(priced_model, _usage_of(response), batch=batch, provider=_PROVIDER)

    def _record_metrics(
        self,
        instruments: _Instruments,
        response: Response | None,
        cost: Cost | None,
        error_type: str | None,
        end_ns: int,
    ) -> None:
        request = self.request
        start = self._start_ns
        first = self._first_chunk_ns
        input_tokens = output_tokens = None
        if response is not None and request.billable:
            if response.input_tokens is not None:
                input_tokens = (
                    response.input_tokens
                    + (response.cache_read_tokens or 0)
                    + (response.cache_write_5m_tokens or 0)
                    + (response.cache_write_1h_tokens or 0)
                )
            output_tokens = response.output_tokens
        instruments.pump.submit(
            (
                instruments.attributes(request, response.model if response is not None else None, error_type),
                (end_ns - start) / _NS_PER_S,
                None if first is None else (first - start) / _NS_PER_S,
                input_tokens,
                output_tokens,
                cost.usd if cost is not None and request.billable else None,
            )
        )


def _usage_of(response: Response) -> Usage:
    return Usage(
        input_tokens=response.input_tokens or 0,
        output_tokens=response.output_tokens or 0,
        cache_read_tokens=response.cache_read_tokens or 0,
        cache_write_5m_tokens=response.cache_write_5m_tokens or 0,
        cache_write_1h_tokens=response.cache_write_1h_tokens or 0,
    )


def _cost_record(usd: float, source: str) -> Cost:
    return Cost(usd=usd, source=source)


_MAX_DESCRIPTION = 1024


def _describe(describe: Callable[[BaseException], str], error: BaseException, error_type: str) -> str:
    try:
        text = describe(error)
    except Exception:
        text = ""
    text = text or error_type
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"
