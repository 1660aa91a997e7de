"""The stream proxy: one provider-neutral base that ends a streamed call's span exactly once, however the stream ends.

`StreamProxy` / `AsyncStreamProxy` wrap an SDK's stream of items (events, batch results). They own iteration,
`close`, context-manager exit, exceptions, cancellation and garbage collection of an abandoned stream
(`weakref.finalize` on the proxy, whose callback holds only the call and its accumulator). The call's context is
not made current around a read: the SDK sent the request inside the call (its span current, so HTTP spans nest
under it) and a read only parses the body, which starts no span; the application's code between reads sees its
own context. That keeps the per-event path to a generator step, the SDK's read and the accumulator's `add`.
What the items mean is the adapter's part: its `Accumulator` (`add`, `finish`, `response`) is the only hook.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import wrapt

from tokentrail.instrumentation.recorder.call import LLMCall
from tokentrail.instrumentation.recorder.records import Accumulator

__all__ = ["AsyncStreamProxy", "StreamProxy", "StreamProxyBase", "wrap_stream"]

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    _ObjectProxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 has no subscriptable proxy at run time
    _ObjectProxy = wrapt.ObjectProxy


def _abandoned(call: LLMCall, accumulator: Accumulator) -> None:
    """Finalizer of a stream proxy that was dropped before it ended."""
    call.end_stream(accumulator)


class StreamProxyBase(_ObjectProxy):
    """What the sync and async proxies share: the call, the accumulator, the finalizer and the one end."""

    def __init__(self, wrapped: Any, call: LLMCall, accumulator: Accumulator) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_accumulator = accumulator
        self._self_finalizer = weakref.finalize(self, _abandoned, call, accumulator)
        # Bound once: each stream event touches these (the hot path of a stream).
        self._self_add = accumulator.add
        self._self_first_chunk = True  # until the first content chunk (time to first chunk) has been seen

    def _self_end(self, error: BaseException | None = None) -> None:
        finalizer = self._self_finalizer
        if finalizer.alive:
            finalizer.detach()
        self._self_call.end_stream(self._self_accumulator, error)

    def _self_exhausted(self) -> None:
        try:
            self._self_accumulator.finish()
        except Exception:
            log.debug("tokentrail: could not finish a stream", exc_info=True)
        self._self_end(None)


class StreamProxy(StreamProxyBase):
    """A synchronous stream of events (or batch results)."""

    def __iter__(self) -> Iterator[Any]:
        """A generator over the events: a `for` loop (and the SDK's stream helpers) resume it per event, which
        costs about half of what a `__next__` of the proxy's own would (no proxy attribute lookups, state in
        locals). `next(proxy)` reads one event through a fresh generator, from the same stream. The generator
        holds the proxy, so an abandoned loop's proxy is finalized (the call cut short) once the generator is
        dropped; when the generator is closed at its `yield` nothing ends, that is `close()`'s or the
        finalizer's job."""
        return self._self_events()

    def _self_events(self) -> Iterator[Any]:
        # The SDK's own iterator (a `Stream`'s `__iter__` generator, which a bare `for` loop would run): its step
        # is cheaper than a call of the stream's Python-level `__next__`, and both read the same underlying events.
        wrapped = self.__wrapped__
        read = iter(wrapped).__next__ if hasattr(type(wrapped), "__iter__") else wrapped.__next__
        add, call = self._self_add, self._self_call
        first = self._self_first_chunk
        while True:
            try:
                item = read()
            except StopIteration:
                self._self_exhausted()
                return
            except BaseException as exc:
                self._self_end(exc)
                raise
            try:
                if add(item) and first:
                    first = self._self_first_chunk = False
                    call.chunk()
            except Exception:
                log.debug("tokentrail: could not account for a stream item", exc_info=True)
            yield item

    def __next__(self) -> Any:
        # One event from a fresh generator (dropped at its first `yield`, which ends nothing): explicit `next()`
        # calls are rare next to loops, and the per-event logic lives in one place.
        return next(self._self_events())

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(None)

    def __enter__(self) -> StreamProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._self_end(exc)
        self.close()


class AsyncStreamProxy(StreamProxyBase):
    """An asynchronous stream of events (or batch results).

    Iteration stays on `__anext__` (no async generator as in the sync proxy): an async generator left in an
    abandoned `async for` is finalized only through the event loop's asyncgen hooks (PEP 525), later and only
    while a loop runs, and it would keep the proxy, and so the end of the call, alive until then."""

    def __init__(self, wrapped: Any, call: LLMCall, accumulator: Accumulator) -> None:
        super().__init__(wrapped, call, accumulator)
        self._self_anext = wrapped.__anext__

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._self_anext()
        except StopAsyncIteration:
            self._self_exhausted()
            raise
        except BaseException as exc:  # includes CancelledError: ended without ERROR by the recorder
            self._self_end(exc)
            raise
        try:  # the per-event path, inlined: a method call per event costs more than the work
            if self._self_add(item) and self._self_first_chunk:
                self._self_first_chunk = False
                self._self_call.chunk()
        except Exception:
            log.debug("tokentrail: could not account for a stream item", exc_info=True)
        return item

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(None)

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._self_end(exc)
        await self.close()


def wrap_stream(stream: Any, call: LLMCall, accumulator: Accumulator) -> Any:
    """The right proxy for `stream` (sync or async); a stream of neither shape ends the call now."""
    if hasattr(stream, "__anext__"):
        return AsyncStreamProxy(stream, call, accumulator)
    if hasattr(stream, "__next__"):
        return StreamProxy(stream, call, accumulator)
    log.debug("tokentrail: %s is not a stream; ending the call", type(stream).__name__)
    call.end_stream(accumulator)
    return stream
