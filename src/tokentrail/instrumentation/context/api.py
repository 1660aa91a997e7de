"""`attributes()` and `workflow()`: the public way to give LLM calls their app context.

Keyword values are coerced to attribute values here (ids to strings, other ids to `tokentrail.app.<key>`,
structured values to compact JSON text); the scopes they return live in `scope` and `spans`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from tokentrail.contract import semconv
from tokentrail.errors import ConfigurationError
from tokentrail.instrumentation.context.scope import AttributeScope
from tokentrail.instrumentation.context.spans import WorkflowScope

__all__ = ["attributes", "workflow"]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _attribute_value(value: Any) -> AttributeValue:
    """Scalars as they are, a sequence of strings as a string array, other structures as compact JSON text."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        try:
            return json.dumps(
                sorted(value, key=str) if isinstance(value, set | frozenset) else value,
                sort_keys=True,
                separators=(",", ":"),
                default=str,
                ensure_ascii=False,
            )
        except (TypeError, ValueError):  # keys that cannot be sorted or encoded, circular structures
            pass
    return str(value)


def _tags(tags: Iterable[Any] | str) -> tuple[str, ...]:
    if isinstance(tags, str):
        return (tags,)
    return tuple(_text(tag) for tag in tags)


def _updates(
    *,
    user_id: Any,
    session_id: Any,
    conversation_id: Any,
    prompt_name: Any,
    prompt_version: Any,
    call_type: Any,
    other_ids: Mapping[str, Any],
) -> dict[str, AttributeValue]:
    updates: dict[str, AttributeValue] = {}
    for key, value in (
        (semconv.USER_ID, user_id),
        (semconv.SESSION_ID, session_id),
        (semconv.GEN_AI_CONVERSATION_ID, conversation_id),
        (semconv.PROMPT_NAME, prompt_name),
        (semconv.PROMPT_VERSION, prompt_version),
        (semconv.CALL_TYPE, call_type),
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
    call_type: str | None = None,
    **other_ids: Any,
) -> AttributeScope:
    """Attributes for every LLM call made inside this scope (a context manager, sync or async, or a decorator).

    `user_id` -> `user.id`, `session_id` -> `session.id`, `conversation_id` -> `gen_ai.conversation.id`,
    `tags` -> `tokentrail.tags` (accumulated across nested scopes), `prompt_name` / `prompt_version` ->
    `tokentrail.prompt.*`, `call_type` (the application's kind of call: `rag_query`, ...) ->
    `tokentrail.call_type`, and any other keyword `key=value` -> `tokentrail.app.<key>` (a dict, list or tuple
    other than a list of strings as compact JSON text). `None` values are ignored; inner scopes win.
    """
    return AttributeScope(
        _updates(
            user_id=user_id,
            session_id=session_id,
            conversation_id=conversation_id,
            prompt_name=prompt_name,
            prompt_version=prompt_version,
            call_type=call_type,
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
    call_type: str | None = None,
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
            call_type=call_type,
            other_ids=other_ids,
        ),
        _tags(tags) if tags is not None else (),
    )
