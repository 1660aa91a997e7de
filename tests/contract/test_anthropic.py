"""contract.anthropic: finish reasons, reading a usage object, and the one usage -> token attributes rule."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_call"),
        ("refusal", "content_filter"),
        ("stop", "stop"),  # already a finish reason
        ("something_new", "something_new"),
    ],
)
def test_finish_reason(stop_reason, finish):
    assert anthropic_contract.finish_reason(stop_reason) == finish


def test_read_usage_from_a_dict_and_an_attribute_object_alike():
    data = {
        "input_tokens": 5,
        "output_tokens": 9,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 30,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
        "output_tokens_details": {"reasoning_tokens": 4},
        "service_tier": "priority",
    }
    expected = anthropic_contract.Usage(5, 9, 100, 10, 20, 4, "priority")
    assert anthropic_contract.read_usage(data) == expected
    nested = NS(
        **{**data, "cache_creation": NS(**data["cache_creation"]), "output_tokens_details": NS(reasoning_tokens=4)}
    )
    assert anthropic_contract.read_usage(nested) == expected
    assert anthropic_contract.read_usage(None) is None


def test_read_usage_cache_write_rules():
    only_total = anthropic_contract.read_usage({"input_tokens": 1, "cache_creation_input_tokens": 70})
    assert (only_total.cache_write_5m_tokens, only_total.cache_write_1h_tokens) == (70, None)
    partial = anthropic_contract.read_usage(
        {"cache_creation_input_tokens": 70, "cache_creation": {"ephemeral_1h_input_tokens": 20}}
    )
    assert (partial.cache_write_5m_tokens, partial.cache_write_1h_tokens) == (50, 20)  # the rest is a 5m write
    wrong = anthropic_contract.read_usage({"input_tokens": True, "output_tokens": "9", "service_tier": 3})
    assert wrong == anthropic_contract.Usage()


def test_read_usage_server_tool_use_and_speed_become_attributes():
    usage = anthropic_contract.read_usage(
        {
            "input_tokens": 10,
            "output_tokens": 2,
            "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 0},
            "speed": "fast",
        }
    )
    assert (usage.web_search_requests, usage.web_fetch_requests, usage.speed) == (3, 0, "fast")
    out = {}
    anthropic_contract.usage_attributes(usage, out)
    assert out[anthropic_contract.WEB_SEARCH_REQUESTS] == 3
    assert anthropic_contract.WEB_FETCH_REQUESTS not in out  # zero requests: no attribute
    assert out[anthropic_contract.SPEED] == "fast"
    assert out[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 10  # requests are not tokens
    odd = anthropic_contract.read_usage({"server_tool_use": {"web_search_requests": "3"}, "speed": 1})
    assert (odd.web_search_requests, odd.speed) == (None, None)


def test_read_usage_adds_compaction_iterations_once():
    iterations = [
        {"type": "compaction", "input_tokens": 900, "output_tokens": 90, "cache_read_input_tokens": 50,
         "cache_creation_input_tokens": 30, "cache_creation": {"ephemeral_1h_input_tokens": 30}},
        {"type": "message", "input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 0,
         "cache_creation_input_tokens": 0},
        {"type": "advisor_message", "input_tokens": 7, "output_tokens": 7, "model": "claude-opus-4-1"},
    ]  # fmt: skip
    usage = anthropic_contract.read_usage(
        {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
         "iterations": iterations}
    )  # fmt: skip
    assert usage == anthropic_contract.Usage(1000, 100, 50, 0, 30)
    # A stream's delta without an input count keeps it unknown (the earlier event's count is kept when merged).
    delta = anthropic_contract.read_usage({"output_tokens": 10, "iterations": iterations})
    assert (delta.input_tokens, delta.output_tokens) == (None, 100)
    assert anthropic_contract.read_usage({"input_tokens": 1, "iterations": "x"}).input_tokens == 1


_FIELDS = {
    "uncached": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "write_5m": "cache_write_5m_tokens",
    "write_1h": "cache_write_1h_tokens",
    "reasoning": "reasoning_tokens",
}


def _tokens(**counts):
    out = {}
    anthropic_contract.usage_attributes(
        anthropic_contract.Usage(**{_FIELDS[name]: value for name, value in counts.items()}), out
    )
    return out


def test_usage_attributes_count_the_cache_into_the_input():
    assert _tokens(uncached=1000, output=100, cache_read=10_000, write_5m=2000, write_1h=3000, reasoning=40) == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 16_000,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 10_000,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 5000,
        anthropic_contract.CACHE_WRITE_5M: 2000,
        anthropic_contract.CACHE_WRITE_1H: 3000,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 40,
    }


def test_usage_attributes_leave_out_what_is_unknown():
    assert _tokens() == {}
    assert _tokens(output=3) == {semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3}
    # a zero cache write is recorded, its TTL breakdown is not
    assert _tokens(uncached=5, write_5m=0, write_1h=0) == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 5,
        semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 0,
    }


def test_uncached_input_reverses_the_rule():
    assert anthropic_contract.uncached_input(16_000, 10_000, 5000) == 1000
    assert anthropic_contract.uncached_input(10, 8, 5) == 0
