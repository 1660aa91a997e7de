"""`tokentrail.llm_call(...)`: record an LLM call the patch cannot see (another provider, raw HTTP, a gateway).

    with tokentrail.llm_call(provider="openai", model="gpt-4o-mini", server_address="api.openai.com") as call:
        call.set_input(messages)
        reply = post_chat_completion(messages)          # HTTP client spans nest under the call's span
        call.set_output(reply_text, finish_reason="stop")
        call.set_usage(input_tokens=..., output_tokens=...)
        call.set_response(id=..., model=...)

The call goes through the same recorder as the anthropic instrumentation, so its span has the same shape: name
`{operation} {model}`, kind CLIENT, made current inside the block, the `gen_ai.*` attributes, the app attributes of
`attributes()` / `workflow()`, content by the content policy, the cost where the price data knows the model for
that provider, and the same metrics. An exception leaving the block ends the call as an error (`error.type`: the
exception's class, or the type given to `set_error_type`) and propagates unchanged; cancellation is not an error.
The object is also an async context manager. Its scope is `semconv.MANUAL_SCOPE`, which the sink reads as
tokentrail's own.

`tokentrail.instrument()` points it at the providers and settings it set up (`configure`); without it, the global
providers and the environment's settings are used. An anthropic SDK call made inside the block is part of the
manual call (the SDK wrappers see a call running and record no second span).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.contract.anthropic import uncached_input
from tokentrail.instrumentation import settings as settings_module
from tokentrail.instrumentation.context.runtime import attach, detach
from tokentrail.instrumentation.recorder.call import LLMCall, qualified_name
from tokentrail.instrumentation.recorder.recorder import Recorder, recorder_for
from tokentrail.instrumentation.recorder.records import Request, Response
from tokentrail.instrumentation.settings import Settings
from tokentrail.pricing import Usage

__all__ = ["ManualCall", "configure", "llm_call"]

log = logging.getLogger(__name__)


class _ReportedError(Exception):
    """What a manual call failed with when its error type was given (`set_error_type`)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message or error_type)
        self.error_type = error_type


def _error_type(error: BaseException) -> str:
    return error.error_type if isinstance(error, _ReportedError) else qualified_name(error)


# --- the recorder: instrument()'s providers and settings, else the global ones ---------------------------------

_lock = threading.Lock()
_configured: tuple[trace.TracerProvider | None, metrics.MeterProvider | None, Settings] | None = None
_recorder: tuple[object, Recorder] | None = None
"""(what it was made for, the recorder): remade when `configure` or the global providers change."""


def configure(
    tracer_provider: trace.TracerProvider | None,
    meter_provider: metrics.MeterProvider | None,
    settings: Settings | None,
) -> None:
    """Record manual calls with these providers and settings (`instrument()`); `settings=None` resets."""
    global _configured, _recorder
    with _lock:
        _configured = None if settings is None else (tracer_provider, meter_provider, settings)
        previous, _recorder = _recorder, None
    if previous is not None:
        previous[1].close()


def _current_recorder() -> Recorder:
    global _recorder
    configured = _configured
    key: object = (
        configured
        if configured is not None
        else (id(trace.get_tracer_provider()), id(metrics.get_meter_provider()), "global")
    )
    found = _recorder
    if found is not None and found[0] == key:
        return found[1]
    with _lock:
        found = _recorder
        if found is not None and found[0] == key:
            return found[1]
        tracer_provider, meter_provider, settings = configured or (None, None, settings_module.current())
        made = recorder_for(semconv.MANUAL_SCOPE, settings, tracer_provider, meter_provider, error_type=_error_type)
        previous, _recorder = _recorder, (key, made)
    if previous is not None:
        previous[1].close()
    return made


# --- the call ------------------------------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


class ManualCall:
    """One hand-recorded call: a context manager (sync and async) and the setters of what the call returned.

    Setters may be called in any order, before or inside the block; the last value wins. Nothing here raises
    into the application: a telemetry fault is logged at debug level.
    """

    __slots__ = (
        "_call",
        "_error_type",
        "_finish_reason",
        "_output",
        "_params",
        "_request",
        "_response_id",
        "_response_model",
        "_token",
        "_usage",
    )

    def __init__(self, request: Request) -> None:
        self._request = request
        self._call: LLMCall | None = None
        self._token: Any = None
        self._params: dict[str, Any] | None = None
        self._output: Any = None
        self._finish_reason: str | None = None
        self._usage: dict[str, int | None] | None = None
        self._response_id: str | None = None
        self._response_model: str | None = None
        self._error_type: str | None = None

    @property
    def span(self) -> trace.Span:
        """The call's span (a non-recording span before the block starts)."""
        return self._call.span if self._call is not None else trace.INVALID_SPAN

    # -- what the call sent and returned ----------------------------------------------------------------------

    def set_input(self, messages: Any, *, system: Any = None, tools: Any = None) -> None:
        """The request's messages (`{"role", "content"}` mappings, or a string), system instructions and tools."""
        params = {"messages": messages, "system": system, "tools": tools}
        self._params = params
        if self._call is not None:
            self._call.capture_request(params)

    def set_output(self, output: Any, *, finish_reason: str | None = None) -> None:
        """The reply: its text, a message (`{"role": "assistant", "content": ...}`) or a list of content parts."""
        self._output = output
        if finish_reason is not None:
            self._finish_reason = str(finish_reason)

    def set_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Token counts. `input_tokens` counts every input token, cached ones included, as
        `gen_ai.usage.input_tokens` does (OpenAI's `prompt_tokens`); a count below the cached ones can only
        leave them out (Anthropic's `input_tokens`), and they are added."""
        self._usage = {
            "input": _count(input_tokens),
            "output": _count(output_tokens),
            "cache_read": _count(cache_read_input_tokens),
            "cache_write": _count(cache_creation_input_tokens),
            "reasoning": _count(reasoning_tokens),
        }

    def set_response(self, *, id: str | None = None, model: str | None = None) -> None:
        """The response's id and the model that answered."""
        if id is not None:
            self._response_id = str(id)
        if model is not None:
            self._response_model = str(model)

    def set_error_type(self, error_type: str) -> None:
        """End the call as an error of this type (`rate_limit_error`, an HTTP status, ...), raised or not."""
        self._error_type = str(error_type)

    def first_chunk(self) -> None:
        """A streamed chunk of content arrived (the first one sets the time to first chunk)."""
        if self._call is not None:
            self._call.chunk()

    # -- the block --------------------------------------------------------------------------------------------

    def __enter__(self) -> ManualCall:
        if self._call is not None:
            log.debug("tokentrail: a llm_call was entered twice; the second entry records nothing")
            return self
        try:
            request = self._request
            request.params = self._params
            self._call = _current_recorder().start(request)
            self._token = attach(self._call.context)
        except Exception:
            log.debug("tokentrail: could not start a manual call", exc_info=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        call, token = self._call, self._token
        if call is None or call.ended:
            return
        self._token = None
        if token is not None:
            try:
                detach(token)
            except Exception:
                log.debug("tokentrail: could not restore the context after a manual call", exc_info=True)
        try:
            response = self._response()
            error: BaseException | None = exc
            if self._error_type is not None:
                error = _ReportedError(self._error_type, "" if exc is None else str(exc))
            if error is None:
                call.stop(response)
            else:
                call.fail(error, response)
        except Exception:
            log.debug("tokentrail: could not end a manual call", exc_info=True)

    async def __aenter__(self) -> ManualCall:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _response(self) -> Response:
        attributes: dict[str, AttributeValue] = {}
        usage: Usage | None = None
        counts = self._usage
        if counts is not None:
            read, write = counts["cache_read"] or 0, counts["cache_write"] or 0
            total, output = counts["input"], counts["output"]
            if total is not None and total < read + write:
                total += read + write
            for name, value in (
                (semconv.GEN_AI_USAGE_INPUT_TOKENS, total),
                (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, output),
                (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, counts["cache_read"]),
                (semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS, counts["cache_write"]),
                (semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, counts["reasoning"]),
            ):
                if value is not None:
                    attributes[name] = value
            if total is not None or output is not None:
                usage = Usage(uncached_input(total or 0, read, write), output or 0, read, write, 0)
        return Response(
            id=self._response_id,
            model=self._response_model,
            finish_reason=self._finish_reason,
            attributes=attributes,
            usage=usage,
            message=self._message(),
        )

    def _message(self) -> Any:
        output = self._output
        if output is None:
            return None
        if isinstance(output, Mapping):
            message = dict(output)
            message.setdefault("role", "assistant")
        else:
            message = {"role": "assistant", "content": output}
        if self._finish_reason is not None:
            message.setdefault("stop_reason", self._finish_reason)
        return message


def llm_call(
    *,
    provider: str,
    model: str | None,
    operation: str = semconv.OP_CHAT,
    server_address: str | None = None,
    server_port: int | None = None,
    stream: bool = False,
    max_tokens: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
) -> ManualCall:
    """A call to record by hand: use it as `with` (or `async with`) around the request; see the module docs.

    `provider` is the `gen_ai.provider.name` (`openai`, `anthropic`, `aws.bedrock`, ...), which also picks the
    prices; `operation` the `gen_ai.operation.name` (`chat`, `text_completion`, `embeddings`, ...).
    """
    provider = str(provider)
    model = None if model is None else str(model)
    attributes: dict[str, AttributeValue] = {
        semconv.GEN_AI_OPERATION_NAME: str(operation),
        semconv.GEN_AI_PROVIDER_NAME: provider,
    }
    if model:
        attributes[semconv.GEN_AI_REQUEST_MODEL] = model
    if server_address:
        attributes[semconv.SERVER_ADDRESS] = str(server_address)
        if type(server_port) is int:
            attributes[semconv.SERVER_PORT] = server_port
    if stream:
        attributes[semconv.GEN_AI_REQUEST_STREAM] = True
    if type(max_tokens) is int:
        attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    for name, value in ((semconv.GEN_AI_REQUEST_TEMPERATURE, temperature), (semconv.GEN_AI_REQUEST_TOP_P, top_p)):
        if type(value) is float or type(value) is int:
            attributes[name] = float(value)
    request = Request(
        str(operation),
        model,
        attributes,
        provider,
        stream=bool(stream),
        server_address=server_address,
        server_port=server_port if type(server_port) is int else None,
    )
    return ManualCall(request)
