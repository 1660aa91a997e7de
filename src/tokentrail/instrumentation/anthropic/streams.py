"""`messages.stream()`: the stream managers' proxy, over the recorder's stream proxies.

`StreamManagerProxy` wraps the managers `messages.stream()` returns: entering it starts the call and makes
the request; the `MessageStream` it returns reads its events from the recorder's proxy (its `_raw_stream` is
replaced), so `text_stream`, `get_final_message`, `get_final_text`, `until_done`, iteration and `close` all feed
the same accumulator as `create(stream=True)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wrapt

from tokentrail.instrumentation.context.runtime import attach as _attach
from tokentrail.instrumentation.context.runtime import detach as _detach
from tokentrail.instrumentation.recorder.call import LLMCall
from tokentrail.instrumentation.recorder.records import Accumulator
from tokentrail.instrumentation.recorder.streams import StreamProxyBase, wrap_stream

__all__ = ["StreamManagerProxy"]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    _ObjectProxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 has no subscriptable proxy at run time
    _ObjectProxy = wrapt.ObjectProxy


class StreamManagerProxy(_ObjectProxy):
    """A `MessageStreamManager` / `AsyncMessageStreamManager` (sync and async entry share this class)."""

    def __init__(
        self,
        wrapped: Any,
        start: Callable[[], LLMCall | None],
        accumulator: Callable[[], Accumulator],
    ) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_accumulator = accumulator
        self._self_stream: StreamProxyBase | None = None

    def _self_adopt(self, message_stream: Any, call: LLMCall) -> Any:
        """Make the `MessageStream` read its raw events through our proxy; return what the user gets."""
        try:
            accumulator = self._self_accumulator()
            raw = getattr(message_stream, "_raw_stream", None)
            if raw is not None:
                proxy = wrap_stream(raw, call, accumulator)
                if isinstance(proxy, StreamProxyBase):
                    message_stream._raw_stream = proxy
                    self._self_stream = proxy
                return message_stream
            # An SDK without `_raw_stream`: the helpers' own reads are invisible, plain iteration is not.
            log.debug("tokentrail: %s has no _raw_stream; proxying it", type(message_stream).__name__)
            proxy = wrap_stream(message_stream, call, accumulator)
            if isinstance(proxy, StreamProxyBase):
                self._self_stream = proxy
            return proxy
        except Exception:
            log.debug("tokentrail: could not follow a message stream", exc_info=True)
            call.cut(None)
            return message_stream

    def _self_exit_error(self, exc: BaseException | None) -> None:
        stream = self._self_stream
        if exc is not None and stream is not None:
            stream._self_end(exc)

    def _self_exited(self) -> None:
        """The manager closed its stream: end the call (once; a no-op when the stream's close already did). Older
        SDKs (0.41 among them) close the HTTP response, not the raw stream our proxy sits on, so nothing else
        would."""
        stream = self._self_stream
        if stream is not None:
            try:
                stream._self_end(None)
            except Exception:
                log.debug("tokentrail: could not end a message stream", exc_info=True)

    def __enter__(self) -> Any:
        call = self._self_start()
        if call is None:
            return self.__wrapped__.__enter__()
        token = _attach(call.context)
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _detach(token)
        return self._self_adopt(message_stream, call)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        self._self_exit_error(exc)
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_exited()

    async def __aenter__(self) -> Any:
        call = self._self_start()
        if call is None:
            return await self.__wrapped__.__aenter__()
        token = _attach(call.context)
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _detach(token)
        return self._self_adopt(message_stream, call)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        self._self_exit_error(exc)
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_exited()
