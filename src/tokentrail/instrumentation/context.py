"""Application context for LLM calls: who, which session, which prompt version, which workflow step.

    with tokentrail.attributes(user_id="u-42", session_id="s-1", tags=["checkout"], tenant_id="acme"):
        client.messages.create(...)          # the call's span carries user.id, session.id, tags, ...

    @tokentrail.workflow("answer_question")
    async def answer(question: str) -> str: ...  # one INTERNAL span `invoke_workflow answer_question`

Both are built on the OpenTelemetry context (contextvars), so they follow asyncio tasks and, with the usual
OpenTelemetry context propagation, threads. Scopes nest: inner values override outer ones and tags accumulate
(deduplicated, in order). The merged attributes are computed once when a scope is entered and stored in the
context under a single key, so `current_attributes()` is one context lookup.

`workflow` follows the GenAI semantic conventions' "Invoke workflow" span: name `invoke_workflow {name}`, kind
INTERNAL, `gen_ai.operation.name = invoke_workflow`, `gen_ai.workflow.name`; an exception is recorded with
`error.type` and ERROR status and re-raised unchanged. The workflow name is also part of the app attributes, so
every LLM call inside the workflow carries `gen_ai.workflow.name`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from contextvars import Token
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.errors import ConfigurationError

__all__ = ["AttributeScope", "WorkflowScope", "attributes", "current_attributes", "set_tracer_provider", "workflow"]

log = logging.getLogger(__name__)

_KEY = otel_context.create_key("tokentrail.app_attributes")
_EMPTY: Mapping[str, AttributeValue] = MappingProxyType({})
_F = TypeVar("_F", bound=Callable[..., Any])

_tracer_provider: trace.TracerProvider | None = None
_tracer_cache: tuple[trace.TracerProvider, trace.Tracer] | None = None


def current_attributes() -> Mapping[str, AttributeValue]:
    """The app attributes in effect here (read-only); an empty mapping when none are set."""
    value = otel_context.get_value(_KEY)
    return cast("Mapping[str, AttributeValue]", value) if value is not None else _EMPTY


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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _attribute_value(value: Any) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return str(value)


def _tags(tags: Iterable[Any] | str) -> tuple[str, ...]:
    if isinstance(tags, str):
        return (tags,)
    return tuple(_text(tag) for tag in tags)


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _is_error(exc: BaseException | None) -> bool:
    """Cancellation and generator shutdown end a scope early but are not errors."""
    return exc is not None and not isinstance(exc, asyncio.CancelledError | GeneratorExit)


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
        return otel_context.set_value(_KEY, self._merged(parent), parent), None

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
        return otel_context.set_value(_KEY, merged, ctx), span

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


def _updates(
    *,
    user_id: Any,
    session_id: Any,
    conversation_id: Any,
    prompt_name: Any,
    prompt_version: Any,
    other_ids: Mapping[str, Any],
) -> dict[str, AttributeValue]:
    updates: dict[str, AttributeValue] = {}
    for key, value in (
        (semconv.USER_ID, user_id),
        (semconv.SESSION_ID, session_id),
        (semconv.GEN_AI_CONVERSATION_ID, conversation_id),
        (semconv.PROMPT_NAME, prompt_name),
        (semconv.PROMPT_VERSION, prompt_version),
    ):
        if value is not None:
            updates[key] = _text(value)
    for key, value in other_ids.items():
        if value is not None:
            updates[semconv.APP_ATTRIBUTE_PREFIX + key] = _attribute_value(value)
    return updates


def attributes(
    *,
    user_id: str | int | None = None,
    session_id: str | int | None = None,
    conversation_id: str | int | None = None,
    tags: Iterable[str] | str | None = None,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    **other_ids: Any,
) -> AttributeScope:
    """Attributes for every LLM call made inside this scope (a context manager, sync or async, or a decorator).

    `user_id` -> `user.id`, `session_id` -> `session.id`, `conversation_id` -> `gen_ai.conversation.id`,
    `tags` -> `tokentrail.tags` (accumulated across nested scopes), `prompt_name` / `prompt_version` ->
    `tokentrail.prompt.*`, and any other keyword `key=value` -> `tokentrail.app.<key>`. `None` values are ignored.
    """
    return AttributeScope(
        _updates(
            user_id=user_id,
            session_id=session_id,
            conversation_id=conversation_id,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            other_ids=other_ids,
        ),
        _tags(tags) if tags is not None else (),
    )


def workflow(
    name: str,
    *,
    user_id: str | int | None = None,
    session_id: str | int | None = None,
    conversation_id: str | int | None = None,
    tags: Iterable[str] | str | None = None,
    prompt_name: str | None = None,
    prompt_version: str | int | None = None,
    **other_ids: Any,
) -> WorkflowScope:
    """An `invoke_workflow {name}` span around a block or function, plus app attributes (as `attributes`).

    Use as `@workflow("name")` on sync or async functions and generators, or as `with` / `async with`.
    """
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"workflow name must be a non-empty string, got {name!r}")
    return WorkflowScope(
        name,
        _updates(
            user_id=user_id,
            session_id=session_id,
            conversation_id=conversation_id,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            other_ids=other_ids,
        ),
        _tags(tags) if tags is not None else (),
    )
