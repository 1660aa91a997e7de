"""The recorder: per-instrumentor state and the factory of `LLMCall`s.

Provider-neutral: an adapter describes each call with a `Request` and its result with a `Response` already in
the span contract's terms; the recorder adds the application context, the content policy's attributes, the
cost and the metrics. No I/O, no SDK imports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from opentelemetry.trace import INVALID_SPAN, SpanKind
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.instrumentation.recorder.call import LLMCall, qualified_name
from tokentrail.instrumentation.recorder.metrics import Instruments

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider
    from opentelemetry.trace import Tracer, TracerProvider

    from tokentrail.instrumentation.recorder.content import ContentPolicy
    from tokentrail.instrumentation.recorder.records import Request
    from tokentrail.instrumentation.settings import Settings
    from tokentrail.pricing import PriceBook

__all__ = ["Recorder", "recorder_for"]

log = logging.getLogger(__name__)


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
        self._instruments = Instruments(meter) if meter is not None else None
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
                content.request_attributes(request.params, attributes)
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

    @property
    def captures_content(self) -> bool:
        """Whether calls record prompt and completion content (a content policy that captures something)."""
        return self._content is not None

    def close(self) -> None:
        """Record every queued metric point and stop the background recording (uninstrument)."""
        if self._instruments is not None:
            self._instruments.pump.close()


def recorder_for(
    scope: str,
    settings: Settings,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    *,
    error_type: Callable[[BaseException], str] = qualified_name,
    describe_error: Callable[[BaseException], str] = str,
) -> Recorder:
    """A `Recorder` for instrumentation scope `scope` from the settings: the price book, the content policy and the
    app attributes of `tokentrail.attributes()`; `None` providers mean the global ones. A part that cannot be set
    up is left out with a warning (the calls are still recorded)."""
    from opentelemetry import metrics, trace

    from tokentrail._version import __version__

    tracer = trace.get_tracer(scope, __version__, tracer_provider=tracer_provider)
    meter = metrics.get_meter(scope, __version__, meter_provider=meter_provider) if settings.metrics else None
    book = None
    try:
        from tokentrail.pricing import pricebook

        book = pricebook(settings.prices_file)
    except Exception as exc:
        log.warning("tokentrail: prices unavailable, calls are recorded without cost: %s", exc)
    else:
        _warm(book)
    content = None
    try:
        from tokentrail.instrumentation.recorder.content import ContentPolicy

        content = ContentPolicy.from_settings(settings)
    except Exception as exc:
        log.warning("tokentrail: content capture unavailable: %s", exc)
    from tokentrail.instrumentation.context import current_attributes

    return Recorder(
        tracer,
        meter,
        pricebook=book,
        content=content,
        context_attributes=current_attributes,
        error_type=error_type,
        describe_error=describe_error,
    )


_warming = threading.Event()
"""Set once the price data's background load has started (the data is the process's: one load serves every book)."""


def _warm(book: PriceBook) -> None:
    """Load the price data off the caller's thread (a fraction of a second, more on a slow host), so the first
    priced call does not pay for it: whichever way the instrumentation starts (`tokentrail.instrument()`,
    `opentelemetry-instrument`, or `AnthropicInstrumentor().instrument()` directly), once per process."""
    if _warming.is_set():
        return
    _warming.set()
    try:
        threading.Thread(target=book.warm, name="tokentrail-prices", daemon=True).start()
    except Exception:  # e.g. no threads left: the first call loads the data itself
        log.debug("tokentrail: could not preload prices", exc_info=True)
