"""Token counts: the input estimate and the prompt-cache bookkeeping."""

from __future__ import annotations

from typing import Any

from tokentrail.dev.standin._replies import build_message
from tokentrail.dev.standin._usage import CacheTracker, estimate_input_tokens

BODY: dict[str, Any] = {"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "Hi there"}]}


def test_input_tokens_grow_with_the_request() -> None:
    longer = {**BODY, "messages": [{"role": "user", "content": "Hi there " * 100}]}

    assert estimate_input_tokens(longer) > estimate_input_tokens(BODY) > 0
    assert build_message(longer, None, model="m")["usage"]["input_tokens"] == estimate_input_tokens(longer)


def test_cache_tracker_is_bounded() -> None:
    cache = CacheTracker(capacity=2)

    # "b" is the least recently used when "c" arrives, so it is forgotten; "a" stays
    assert [cache.hit(key) for key in ("a", "b", "a", "c", "a", "b")] == [False, False, True, False, True, False]
