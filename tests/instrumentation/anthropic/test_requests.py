"""requests: Messages calls to records, placeholders and wrongly typed values dropped."""

from __future__ import annotations

import anthropic
import pytest

from tokentrail.contract import anthropic as anthropic_contract
from tokentrail.contract import semconv
from tokentrail.instrumentation.anthropic import requests


@pytest.fixture
def messages_resource():
    client = anthropic.Anthropic(api_key="k", base_url="http://llm.internal:8080")
    yield client.messages
    client.close()


def test_chat_request(messages_resource):
    request = requests.chat_request(
        messages_resource,
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [],
            "stop_sequences": ["x", "y"],
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "extra_body": {"temperature": 0, "top_k": 5},
            "top_p": anthropic.NOT_GIVEN,
        },
        stream=True,
    )
    a = request.attributes
    assert (request.operation, request.model, request.stream) == ("chat", "claude-haiku-4-5", True)
    assert request.provider == a[semconv.GEN_AI_PROVIDER_NAME] == anthropic_contract.PROVIDER
    assert (a[semconv.SERVER_ADDRESS], a[semconv.SERVER_PORT]) == ("llm.internal", 8080)
    assert (request.server_address, request.server_port) == ("llm.internal", 8080)
    assert a[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.0
    assert a[semconv.GEN_AI_REQUEST_TOP_K] == 5.0
    assert semconv.GEN_AI_REQUEST_TOP_P not in a
    assert a[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ("x", "y")
    assert a[anthropic_contract.THINKING_BUDGET] == 2048
    assert a[semconv.GEN_AI_REQUEST_STREAM] is True


def test_chat_request_drops_wrongly_typed_values(messages_resource):
    request = requests.chat_request(
        messages_resource, {"model": anthropic.NOT_GIVEN, "max_tokens": True, "stop_sequences": "END"}, stream=False
    )
    assert request.model is None
    for name in (
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_REQUEST_MAX_TOKENS,
        semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
    ):
        assert name not in request.attributes
    assert semconv.GEN_AI_REQUEST_STREAM not in request.attributes


def test_count_tokens_request_is_not_billable(messages_resource):
    request = requests.count_tokens_request(messages_resource, {"model": "claude-haiku-4-5", "messages": []})
    assert (request.operation, request.model, request.billable) == ("count_tokens", "claude-haiku-4-5", False)
    assert request.provider == anthropic_contract.PROVIDER
