"""The newest SDK's usage fields, on the real SDK against the stand-in, plain and streamed: exactly one span per
call, every token counted once, the cost at the published rates (stated here, independently of the price data)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.dev.standin import MessageReply, StandinServer, TextBlock, Usage

MODEL = "claude-sonnet-4-6"
# Anthropic's published list prices for the model, USD per million tokens (anthropic.com/pricing).
INPUT, OUTPUT, CACHE_READ, CACHE_WRITE_5M, CACHE_WRITE_1H = 3.00, 15.00, 0.30, 3.75, 6.00
MESSAGES = [{"role": "user", "content": "Summarise the refund policy."}]


def call(client: anthropic.Anthropic, stream: bool) -> None:
    if stream:
        for _ in client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, stream=True):
            pass
    else:
        client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES)


def only_span(exporter: InMemorySpanExporter) -> dict[str, Any]:
    spans = [s for s in exporter.get_finished_spans() if s.attributes and semconv.GEN_AI_OPERATION_NAME in s.attributes]
    assert len(spans) == 1, [s.name for s in exporter.get_finished_spans()]
    return dict(spans[0].attributes or {})


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_one_hour_cache_writes_are_priced_at_their_rate(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    stream: bool,
) -> None:
    standin.enqueue(
        MessageReply(
            usage=Usage(
                input_tokens=100,
                output_tokens=50,
                cache_read_input_tokens=1000,
                cache_creation_input_tokens=3000,
                ephemeral_1h_input_tokens=2000,
            )
        )
    )
    call(anthropic_client, stream)
    attributes = only_span(span_exporter)
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 100 + 1000 + 3000
    assert attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 3000
    assert attributes[anthropic_contract.CACHE_WRITE_5M] == 1000
    assert attributes[anthropic_contract.CACHE_WRITE_1H] == 2000
    expected = 100 * INPUT + 50 * OUTPUT + 1000 * CACHE_READ + 1000 * CACHE_WRITE_5M + 2000 * CACHE_WRITE_1H
    assert attributes[semconv.COST_USD] == pytest.approx(expected / 1e6)


WEB_SEARCH = 10.00 / 1000  # USD per search ($10 per 1,000)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_server_tool_use_is_recorded_and_web_searches_priced(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    stream: bool,
) -> None:
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "refunds"}}
    results = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}
    standin.enqueue(
        MessageReply(
            content=[search, results, TextBlock("Refunds take 5 days.")],
            usage=Usage(
                input_tokens=2000,
                output_tokens=100,
                server_tool_use={"web_search_requests": 3, "web_fetch_requests": 2},
            ),
        )
    )
    call(anthropic_client, stream)
    attributes = only_span(span_exporter)
    assert attributes[anthropic_contract.WEB_SEARCH_REQUESTS] == 3
    assert attributes[anthropic_contract.WEB_FETCH_REQUESTS] == 2
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2000
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 100
    # Web fetches cost only their tokens; each search is billed on top.
    expected = (2000 * INPUT + 100 * OUTPUT) / 1e6 + 3 * WEB_SEARCH
    assert attributes[semconv.COST_USD] == pytest.approx(expected)


def test_calls_without_server_tools_have_no_request_counts(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
) -> None:
    standin.enqueue(
        MessageReply(usage=Usage(input_tokens=10, output_tokens=5, server_tool_use={"web_search_requests": 0}))
    )
    call(anthropic_client, False)
    attributes = only_span(span_exporter)
    assert anthropic_contract.WEB_SEARCH_REQUESTS not in attributes
    assert attributes[semconv.COST_USD] == pytest.approx((10 * INPUT + 5 * OUTPUT) / 1e6)


FAST_MODEL = "claude-opus-5-5"
# Claude Opus 5.5, USD per million tokens: standard and fast mode (Anthropic's pricing and fast-mode pages).
FAST_STANDARD, FAST_FAST = (4.00, 20.00), (8.00, 40.00)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(("speed", "prices"), [("fast", FAST_FAST), ("standard", FAST_STANDARD), (None, FAST_STANDARD)])
def test_speed_and_service_tier_are_on_the_span_and_fast_mode_is_priced_at_its_rates(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    stream: bool,
    speed: str | None,
    prices: tuple[float, float],
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, service_tier="priority", speed=speed)
    standin.enqueue(MessageReply(model=FAST_MODEL, usage=usage))
    if stream:
        for _ in anthropic_client.messages.create(model=FAST_MODEL, max_tokens=256, messages=MESSAGES, stream=True):
            pass
    else:
        anthropic_client.messages.create(model=FAST_MODEL, max_tokens=256, messages=MESSAGES)
    attributes = only_span(span_exporter)
    assert attributes[anthropic_contract.SERVICE_TIER] == "priority"  # the price data has no priority-tier prices
    assert attributes.get(anthropic_contract.SPEED) == speed
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert attributes[semconv.COST_USD] == pytest.approx((1000 * prices[0] + 100 * prices[1]) / 1e6)


COMPACTED = [
    {"type": "compaction", "input_tokens": 180_000, "output_tokens": 3500, "cache_read_input_tokens": 0,
     "cache_creation_input_tokens": 0},
    {"type": "message", "input_tokens": 23_000, "output_tokens": 1000, "cache_read_input_tokens": 0,
     "cache_creation_input_tokens": 0},
]  # fmt: skip
"""The API's compaction example: the summarising step read 180K tokens; the answer, on the compacted context, 23K."""


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_compaction_iterations_are_counted_once(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    stream: bool,
) -> None:
    """The top-level usage leaves the compaction step out and includes the `message` iteration: tokens and cost
    are the top level plus the compaction entry, each once."""
    standin.enqueue(MessageReply(usage=Usage(input_tokens=23_000, output_tokens=1000, iterations=COMPACTED)))
    edits = {"edits": [{"type": "compact_20260112"}]}
    if stream:
        for _ in anthropic_client.beta.messages.create(
            model=MODEL, max_tokens=256, messages=MESSAGES, stream=True, betas=["compact-2026-01-12"],
            extra_body={"context_management": edits},
        ):  # fmt: skip
            pass
    else:
        anthropic_client.beta.messages.create(
            model=MODEL, max_tokens=256, messages=MESSAGES, betas=["compact-2026-01-12"],
            extra_body={"context_management": edits},
        )  # fmt: skip
    attributes = only_span(span_exporter)
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 23_000 + 180_000
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 1000 + 3500
    expected = ((23_000 + 180_000) * INPUT + (1000 + 3500) * OUTPUT) / 1e6
    assert attributes[semconv.COST_USD] == pytest.approx(expected)


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_compaction_one_hour_writes_tier_and_searches_together_are_each_counted_once(
    instrumented: Any,
    anthropic_client: anthropic.Anthropic,
    standin: StandinServer,
    span_exporter: InMemorySpanExporter,
    stream: bool,
) -> None:
    """A compaction step that itself read and wrote the cache (1-hour), under a top level with both write TTLs, a
    service tier and web searches: a stream repeats the usage in `message_start` and `message_delta`, and nothing
    may be added twice."""
    compaction = {
        "type": "compaction", "input_tokens": 40_000, "output_tokens": 3000, "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 500,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 500},
    }  # fmt: skip
    answer = {"type": "message", "input_tokens": 1000, "output_tokens": 200}
    usage = Usage(
        input_tokens=1000, output_tokens=200, cache_read_input_tokens=500, cache_creation_input_tokens=3000,
        ephemeral_1h_input_tokens=2000, service_tier="priority", speed="standard",
        server_tool_use={"web_search_requests": 2}, iterations=[compaction, answer],
    )  # fmt: skip
    standin.enqueue(MessageReply(usage=usage))
    arguments: dict[str, Any] = {"model": MODEL, "max_tokens": 256, "messages": MESSAGES}
    if stream:
        for _ in anthropic_client.beta.messages.create(**arguments, stream=True):
            pass
    else:
        anthropic_client.beta.messages.create(**arguments)
    attributes = only_span(span_exporter)
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == (1000 + 500 + 3000) + (40_000 + 1000 + 500)
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 200 + 3000
    assert attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1500
    assert attributes[semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 3500
    assert (attributes[anthropic_contract.CACHE_WRITE_5M], attributes[anthropic_contract.CACHE_WRITE_1H]) == (
        1000,
        2500,
    )
    assert attributes[anthropic_contract.SERVICE_TIER] == "priority"
    assert attributes[anthropic_contract.WEB_SEARCH_REQUESTS] == 2
    tokens = 41_000 * INPUT + 3200 * OUTPUT + 1500 * CACHE_READ + 1000 * CACHE_WRITE_5M + 2500 * CACHE_WRITE_1H
    assert attributes[semconv.COST_USD] == pytest.approx(tokens / 1e6 + 2 * WEB_SEARCH)
