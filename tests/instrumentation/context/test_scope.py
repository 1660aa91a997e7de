"""App context scopes (`tokentrail.attributes`): nesting, tags, one mapping per scope, propagation into threads."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

import tokentrail
from tokentrail.contract import semconv
from tokentrail.instrumentation.context import current_attributes


def test_nothing_set_is_an_empty_read_only_mapping() -> None:
    attributes = current_attributes()
    assert isinstance(attributes, Mapping)
    assert dict(attributes) == {}
    with pytest.raises(TypeError):
        attributes["x"] = "y"  # type: ignore[index]


def test_scopes_nest_override_and_accumulate_tags() -> None:
    with tokentrail.attributes(user_id="u-1", session_id="s-1", tags=["checkout", "web"], tenant_id="acme"):
        outer = dict(current_attributes())
        with tokentrail.attributes(
            user_id=42, tags="web", conversation_id="c-9", prompt_name="answer", prompt_version=3, region=None
        ):
            inner = dict(current_attributes())
        assert dict(current_attributes()) == outer
    assert dict(current_attributes()) == {}
    assert outer == {
        semconv.USER_ID: "u-1",
        semconv.SESSION_ID: "s-1",
        semconv.TAGS: ("checkout", "web"),
        semconv.APP_ATTRIBUTE_PREFIX + "tenant_id": "acme",
    }
    assert inner == {
        semconv.USER_ID: "42",
        semconv.SESSION_ID: "s-1",
        semconv.TAGS: ("checkout", "web"),
        semconv.APP_ATTRIBUTE_PREFIX + "tenant_id": "acme",
        semconv.GEN_AI_CONVERSATION_ID: "c-9",
        semconv.PROMPT_NAME: "answer",
        semconv.PROMPT_VERSION: "3",
    }


def test_the_mapping_is_computed_once_per_scope() -> None:
    with tokentrail.attributes(user_id="u"):
        assert current_attributes() is current_attributes()


async def test_asyncio_tasks_keep_their_own_attributes() -> None:
    async def worker(user: str) -> Mapping[str, object]:
        with tokentrail.attributes(user_id=user):
            await asyncio.sleep(0)
            return dict(current_attributes())

    async def inherits() -> Mapping[str, object]:
        await asyncio.sleep(0)
        return dict(current_attributes())

    with tokentrail.attributes(session_id="shared"):
        results = await asyncio.gather(worker("a"), worker("b"), asyncio.create_task(inherits()))
    assert results[0] == {semconv.SESSION_ID: "shared", semconv.USER_ID: "a"}
    assert results[1] == {semconv.SESSION_ID: "shared", semconv.USER_ID: "b"}
    assert results[2] == {semconv.SESSION_ID: "shared"}


def test_threads_see_the_attributes_when_the_context_is_propagated() -> None:
    def read() -> dict[str, object]:
        return dict(current_attributes())

    with ThreadPoolExecutor(max_workers=2) as pool, tokentrail.attributes(user_id="u-t"):
        propagated = pool.submit(contextvars.copy_context().run, read).result()
        plain = pool.submit(read).result()
    assert propagated == {semconv.USER_ID: "u-t"}
    assert plain == {}


async def test_attributes_as_decorator_on_sync_and_async_functions() -> None:
    @tokentrail.attributes(user_id="deco")
    def sync_function() -> dict[str, object]:
        return dict(current_attributes())

    @tokentrail.attributes(tags=["async"])
    async def async_function() -> dict[str, object]:
        await asyncio.sleep(0)
        return dict(current_attributes())

    assert sync_function() == {semconv.USER_ID: "deco"}
    assert await async_function() == {semconv.TAGS: ("async",)}
    assert dict(current_attributes()) == {}
