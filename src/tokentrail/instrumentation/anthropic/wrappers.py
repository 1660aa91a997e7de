"""Thin wrapt adapters over the recorder: one sync and one async wrapper shape, parametrised by `Operation`.

An `Operation` says how to describe a call (`request`) and what to do with its result (`complete`: record a
message, or hand back a stream proxy). The adapters add nothing else: reentrancy guard (a call made while a
tokentrail call's SDK work runs is part of that call), the call's context around the SDK's work, and
`fail` with the very exception object, which is re-raised unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic import requests
from tokentrail.instrumentation.anthropic.accumulator import MessageAccumulator, fast_path
from tokentrail.instrumentation.anthropic.batches import BatchResultsAccumulator, batch_request, batch_response
from tokentrail.instrumentation.anthropic.responses import count_tokens_response, message_response
from tokentrail.instrumentation.anthropic.streams import StreamManagerProxy
from tokentrail.instrumentation.context.runtime import attach as _attach
from tokentrail.instrumentation.context.runtime import current_context as _current_context
from tokentrail.instrumentation.context.runtime import detach as _detach
from tokentrail.instrumentation.recorder.call import ACTIVE_CALL_KEY, LLMCall
from tokentrail.instrumentation.recorder.recorder import Recorder
from tokentrail.instrumentation.recorder.records import Request
from tokentrail.instrumentation.recorder.streams import wrap_stream

__all__ = ["Adapters", "Operation"]

log = logging.getLogger(__name__)


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
RequestOf = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], Request]
Complete = Callable[[LLMCall, Any], Any]


@dataclass(frozen=True, slots=True)
class Operation:
    request: RequestOf
    complete: Complete


class Adapters:
    """The wrappers of one instrumentor (they share its recorder)."""

    def __init__(self, recorder: Recorder) -> None:
        self.enabled = True
        """False once uninstrumented: wrappers the SDK captured earlier (bound methods, `with_raw_response`
        helpers made while instrumented) then pass straight through."""
        self._recorder = recorder
        self._capture = recorder.captures_content  # streams keep their text only when it is recorded
        self._fast = fast_path()  # the SDK's delta event classes (imported by now: the SDK is instrumented)
        self.chat = Operation(self._chat_request, self._complete_chat)
        self.count_tokens = Operation(self._count_tokens_request, _stop_with(count_tokens_response))
        self.batch_create = Operation(_batch(semconv.OP_BATCH_CREATE), _stop_with(batch_response))
        self.batch_retrieve = Operation(_batch(semconv.OP_BATCH_RETRIEVE), _stop_with(batch_response))
        self.batch_results = Operation(_batch(semconv.OP_BATCH_RESULTS), self._complete_batch_results)

    def close(self) -> None:
        """Uninstrumented: pass every later call straight through, and record the metrics still queued."""
        self.enabled = False
        try:
            self._recorder.close()
        except Exception:
            log.debug("tokentrail: could not flush the metrics", exc_info=True)

    # -- the two wrapper shapes ----------------------------------------------------------------------------

    def _start(self, operation: Operation, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if not self.enabled or _current_context().get(ACTIVE_CALL_KEY) is not None:  # `active_call()`, inlined
            return None  # inside a recorded call (e.g. `batches.results` retrieving its batch): part of it
        try:
            return self._recorder.start(operation.request(instance, args, kwargs))
        except Exception:
            log.debug("tokentrail: could not start a call; running it unrecorded", exc_info=True)
            return None

    def sync(self, operation: Operation) -> Wrapper:
        start, complete = self._start, operation.complete

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = start(operation, instance, args, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            token = _attach(call.context)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _detach(token)
            return complete(call, result)

        return wrapper

    def async_(self, operation: Operation) -> Wrapper:
        start, complete = self._start, operation.complete

        async def wrapper(
            wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            call = start(operation, instance, args, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = _attach(call.context)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _detach(token)
            return complete(call, result)

        return wrapper

    def stream_manager(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """`messages.stream()` (sync and async): the request happens when the manager is entered."""
        manager = wrapped(*args, **kwargs)
        try:
            return StreamManagerProxy(
                manager,
                lambda: self._start(self._stream_operation, instance, args, kwargs),
                self._message_accumulator,
            )
        except Exception:
            log.debug("tokentrail: could not follow a stream manager", exc_info=True)
            return manager

    # -- operations ----------------------------------------------------------------------------------------

    @staticmethod
    def _chat_request(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
        return requests.chat_request(instance, kwargs, stream=kwargs.get("stream") is True)

    @property
    def _stream_operation(self) -> Operation:
        return _STREAM_OPERATION

    def _message_accumulator(self) -> MessageAccumulator:
        return MessageAccumulator(capture=self._capture, fast=self._fast)

    def _complete_chat(self, call: LLMCall, result: Any) -> Any:
        try:
            if call.request.stream:
                accumulator = self._message_accumulator()
                accumulator.request_id = _request_id(getattr(result, "response", None))
                return wrap_stream(result, call, accumulator)
            response = message_response(result)
            if response is None:
                response = _raw_message(result)
            call.stop(response)
        except Exception:
            log.debug("tokentrail: could not record a result", exc_info=True)
            call.stop(None)
        return result

    @staticmethod
    def _count_tokens_request(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
        return requests.count_tokens_request(instance, kwargs)

    @staticmethod
    def _complete_batch_results(call: LLMCall, result: Any) -> Any:
        try:
            return wrap_stream(result, call, BatchResultsAccumulator())
        except Exception:
            log.debug("tokentrail: could not follow batch results", exc_info=True)
            call.stop(None)
            return result


def _stream_request(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
    return requests.chat_request(instance, kwargs, stream=True)


def _unused_complete(call: LLMCall, result: Any) -> Any:  # the stream manager completes through its proxy
    return result


_STREAM_OPERATION = Operation(_stream_request, _unused_complete)


def _stop_with(response_of: Callable[[Any], Any]) -> Complete:
    """A `complete` that ends the call with the response `response_of` reads from the result."""

    def complete(call: LLMCall, result: Any) -> Any:
        try:
            call.stop(response_of(result))
        except Exception:
            log.debug("tokentrail: could not record a result", exc_info=True)
            call.stop(None)
        return result

    return complete


def _batch(operation: str) -> RequestOf:
    def request(instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Request:
        return batch_request(operation, instance, args, kwargs)

    return request


def _request_id(http_response: Any) -> str | None:
    """The `request-id` header of a stream's HTTP response (recorded with the other end attributes)."""
    headers = getattr(http_response, "headers", None)
    if headers is None:
        return None
    request_id = headers.get("request-id")
    return request_id if isinstance(request_id, str) else None


def _raw_message(result: Any) -> Any:
    """The message of a `with_raw_response` result whose body was read (parsing is cached by the SDK)."""
    http_response = getattr(result, "http_response", None)
    if http_response is None or not getattr(http_response, "is_closed", False):
        return None  # `with_streaming_response`: the body belongs to the application
    try:
        return message_response(result.parse())
    except Exception:
        log.debug("tokentrail: could not read a raw response", exc_info=True)
        return None
