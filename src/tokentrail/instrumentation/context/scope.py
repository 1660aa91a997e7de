"""The scope machinery under `attributes()` and `workflow()`: app attributes in the OpenTelemetry context.

A scope merges its attributes into those of the context it is entered in (inner values override outer ones, tags
accumulate, deduplicated, in order) and stores the result under one context key, so `current_attributes()` is one
lookup. Being contextvars, it follows asyncio tasks and, with OpenTelemetry context propagation, threads. A scope is
a context manager (sync and async) and a decorator of sync and async functions and generators.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from contextvars import Token
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.instrumentation.context.runtime import current_context

__all__ = ["AttributeScope", "current_attributes", "with_attributes"]

_KEY = otel_context.create_key("tokentrail.app_attributes")
_EMPTY: Mapping[str, AttributeValue] = MappingProxyType({})
_F = TypeVar("_F", bound=Callable[..., Any])


def with_attributes(attributes: Mapping[str, AttributeValue], ctx: otel_context.Context) -> otel_context.Context:
    """`ctx` carrying `attributes` as the app attributes (already merged with the outer ones)."""
    return otel_context.set_value(_KEY, attributes, ctx)


def current_attributes() -> Mapping[str, AttributeValue]:
    """The app attributes in effect here (read-only); an empty mapping when none are set."""
    value = current_context().get(_KEY)  # `get_value(_KEY)` without the API's calls (every LLM call reads it)
    return cast("Mapping[str, AttributeValue]", value) if value is not None else _EMPTY


class AttributeScope:
    """A context manager (sync and async) and decorator that adds app attributes to the calls made inside it.

    Each `with` entry computes the merged attributes from the context it is entered in. One instance may be
    entered again after it exits (and nested), but not from concurrent threads or tasks at the same time;
    as a decorator, every call gets its own entry, so decorated functions may run concurrently.
    """

    __slots__ = ("_entries", "_tags", "_updates")

    def __init__(self, updates: Mapping[str, AttributeValue], tags: tuple[str, ...] = ()) -> None:
        self._updates = dict(updates)
        self._tags = tags
        self._entries: list[tuple[Token[otel_context.Context], Span | None]] = []

    # -- merging ----------------------------------------------------------------------------------------------

    def _merged(self, parent: otel_context.Context) -> Mapping[str, AttributeValue]:
        base = otel_context.get_value(_KEY, parent)
        merged: dict[str, AttributeValue] = dict(cast("Mapping[str, AttributeValue]", base)) if base else {}
        merged.update(self._updates)
        if self._tags:
            outer = merged.get(semconv.TAGS)
            existing = tuple(outer) if isinstance(outer, tuple | list) else ()
            merged[semconv.TAGS] = tuple(dict.fromkeys((*cast("tuple[str, ...]", existing), *self._tags)))
        return MappingProxyType(merged)

    def _open(self) -> tuple[otel_context.Context, Span | None]:
        parent = otel_context.get_current()
        return with_attributes(self._merged(parent), parent), None

    def _close(self, span: Span | None, exc: BaseException | None) -> None:
        return None

    def _enter(self) -> tuple[Token[otel_context.Context], Span | None]:
        ctx, span = self._open()
        return otel_context.attach(ctx), span

    def _exit(self, entry: tuple[Token[otel_context.Context], Span | None], exc: BaseException | None) -> None:
        token, span = entry
        try:
            self._close(span, exc)
        finally:
            otel_context.detach(token)

    # -- context manager protocol -----------------------------------------------------------------------------

    def __enter__(self) -> None:
        self._entries.append(self._enter())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit(self._entries.pop(), exc)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- decorator --------------------------------------------------------------------------------------------

    def __call__(self, func: _F) -> _F:
        """Decorate a sync or async function (or a sync / async generator function) to run inside this scope."""
        if inspect.isasyncgenfunction(func):
            return cast("_F", self._wrap_async_generator(func))
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                entry = self._enter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    self._exit(entry, exc)
                    raise
                self._exit(entry, None)
                return result

            return cast("_F", run_async)
        if inspect.isgeneratorfunction(func):
            return cast("_F", self._wrap_generator(func))

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            entry = self._enter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._exit(entry, exc)
                raise
            self._exit(entry, None)
            return result

        return cast("_F", run)

    def _wrap_generator(self, func: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Generator[Any, Any, Any]]:
        """The scope spans the whole iteration but is current only while the generator's own code runs."""

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            ctx, span = self._open()
            token = otel_context.attach(ctx)
            try:
                inner = func(*args, **kwargs)
            finally:
                otel_context.detach(token)
            error: BaseException | None = None
            try:
                while True:
                    token = otel_context.attach(ctx)
                    try:
                        item = next(inner)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        otel_context.detach(token)
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                token = otel_context.attach(ctx)
                try:
                    inner.close()
                finally:
                    otel_context.detach(token)
                    self._close(span, error)

        return run

    def _wrap_async_generator(self, func: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        @functools.wraps(func)
        async def run(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            ctx, span = self._open()
            token = otel_context.attach(ctx)
            try:
                inner = func(*args, **kwargs)
            finally:
                otel_context.detach(token)
            error: BaseException | None = None
            try:
                while True:
                    token = otel_context.attach(ctx)
                    try:
                        item = await inner.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        otel_context.detach(token)
                    yield item
            except BaseException as exc:
                error = exc
                raise
            finally:
                token = otel_context.attach(ctx)
                try:
                    aclose = getattr(inner, "aclose", None)
                    if aclose is not None:
                        await aclose()
                finally:
                    otel_context.detach(token)
                    self._close(span, error)

        return run
