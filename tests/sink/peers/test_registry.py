"""`tokentrail.sink.peers`: one module per source with the same interface, detected in one order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv as sc
from tokentrail.instrumentation.recorder.content import ContentPolicy
from tokentrail.instrumentation.settings import CaptureMode
from tokentrail.sink import peers
from tokentrail.sink.peers import PEERS, SOURCES, contract_of, to_contract

CHAT = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic", sc.GEN_AI_REQUEST_MODEL: "m"}


def test_every_peer_has_the_interface_and_a_source() -> None:
    assert sorted(peer.SOURCE for peer in PEERS) == sorted(SOURCES)
    for peer in PEERS:
        assert callable(peer.claims)
        assert callable(peer.resembles)
        assert callable(peer.translate)


@pytest.mark.parametrize(
    ("name", "scope", "attributes", "source"),
    [
        ("chat m", anthropic_contract.INSTRUMENTATION_SCOPE, CHAT, peers.SOURCE_TOKENTRAIL),
        ("anthropic.messages.create", anthropic_contract.SDK_NATIVE_SCOPE, CHAT, peers.SOURCE_ANTHROPIC_SDK),
        ("anthropic.chat", "opentelemetry.instrumentation.anthropic", CHAT, peers.SOURCE_OPENLLMETRY),
        (
            "chat m",
            "opentelemetry.instrumentation.anthropic",
            {**CHAT, "llm.request.type": "chat"},
            peers.SOURCE_OPENLLMETRY,
        ),
        ("chat m", "opentelemetry.instrumentation.anthropic", CHAT, peers.SOURCE_OTEL_GENAI),
        ("chat m", "opentelemetry.instrumentation.genai.anthropic", CHAT, peers.SOURCE_OTEL_GENAI),
        ("chat m", "openlit.otel.tracing", CHAT, peers.SOURCE_OPENLIT),
        ("chat m", "some.wrapper", {**CHAT, "telemetry.sdk.name": "openlit"}, peers.SOURCE_OPENLIT),
        ("chat m", "logfire", {**CHAT, sc.GEN_AI_RESPONSE_ID: "msg_1"}, peers.SOURCE_LOGFIRE),
        # every scope test before any shape test: a known scope wins over another peer's shape
        (
            "chat m",
            "logfire",
            {**CHAT, "llm.request.type": "chat", sc.GEN_AI_RESPONSE_ID: "msg_1"},
            peers.SOURCE_LOGFIRE,
        ),
        # no scope: by shape, OpenInference, then OpenLLMetry, then plain GenAI
        ("x", None, {**CHAT, "openinference.span.kind": "LLM", "llm.request.type": "chat"}, peers.SOURCE_OPENINFERENCE),
        ("x", None, {**CHAT, "llm.request.type": "chat"}, peers.SOURCE_OPENLLMETRY),
        ("x", None, CHAT, peers.SOURCE_OTEL_GENAI),
    ],
)
def test_detection_order(name: str, scope: str | None, attributes: dict[str, Any], source: str) -> None:
    found = to_contract(name, scope, attributes)
    assert found is not None
    assert found[0] == source


def test_peer_content_goes_through_the_instrumentation_converter() -> None:
    """The request body a peer recorded gives the same message parts as the instrumentor's capture of it."""
    request = {
        "model": "m",
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]},
        ],
        "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
    }
    found = to_contract(
        "Messages",
        "openinference.instrumentation.anthropic",
        {"openinference.span.kind": "LLM", "input.value": json.dumps(request)},
    )
    assert found is not None
    captured = ContentPolicy(CaptureMode.SPAN_ONLY).request_attributes(request)
    for key in (sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_TOOL_DEFINITIONS):
        assert json.loads(found[1][key]) == json.loads(str(captured[key])), key


def test_usage_follows_the_contract_rule() -> None:
    usage = {
        "input_tokens": 3,
        "output_tokens": 2,
        "cache_read_input_tokens": 5,
        "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 4},
        "cache_creation_input_tokens": 5,
    }
    found = to_contract("chat m", "logfire", {**CHAT, "gen_ai.usage.raw": json.dumps(usage)})
    assert found is not None
    attributes = found[1]
    assert attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 3 + 5 + 5
    assert attributes[sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] == 5
    assert attributes[anthropic_contract.CACHE_WRITE_1H] == 4


def test_contract_of_keeps_only_calls() -> None:
    assert contract_of("chat m", anthropic_contract.INSTRUMENTATION_SCOPE, CHAT) == ("tokentrail", CHAT)
    assert contract_of("helper", anthropic_contract.INSTRUMENTATION_SCOPE, {"x": 1}) is None
