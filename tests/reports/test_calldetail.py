"""tokentrail.reports.calldetail: one call's row, request parameters, conversation and cost breakdown."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.pricing import Usage, default_pricebook
from tokentrail.reports.calldetail import call_detail

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def test_call_detail_reads_row_params_content_and_prices_each_kind_of_token(conn: psycopg.Connection[Any]) -> None:
    call = Call(
        NOW,
        model="claude-sonnet-4-5",
        input_tokens=1300,
        cache_read=1000,
        cache_write=200,
        output_tokens=50,
        reasoning=20,
        ttfc_ms=120.0,
        finish_reasons=["tool_call"],
        user="u1",
        session="s1",
        system_body=json.dumps([{"type": "text", "content": "be brief"}]),
        input_body=json.dumps([{"role": "user", "parts": [{"type": "text", "content": "<script>x</script>"}]}]),
        output_body=json.dumps(
            [
                {
                    "role": "assistant",
                    "finish_reason": "tool_call",
                    "parts": [{"type": "tool_call", "id": "t1", "name": "lookup", "arguments": {"k": 1}}],
                }
            ]
        ),
        tools_body=json.dumps([{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]),
        span_attributes={
            "gen_ai.request.max_tokens": 512,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.model": "claude-sonnet-4-5",
            "tokentrail.app.company_id": "acme",
        },
    )
    insert(conn, [call])
    detail = call_detail(conn, call.trace_id.upper(), call.span_id)
    assert detail is not None
    assert (detail.input_tokens, detail.uncached_input_tokens, detail.cache_read_tokens) == (1300, 100, 1000)
    assert (detail.reasoning_tokens, detail.time_to_first_chunk_ms, detail.finish_reasons) == (
        20,
        120.0,
        ("tool_call",),
    )
    assert detail.request_params == (("max_tokens", "512"), ("temperature", "0.2"))
    assert detail.app_attributes == (("company_id", "acme"),)
    conv = detail.conversation
    assert conv.system.messages[0].parts[0].text == "be brief"
    assert conv.input.messages[0].parts[0].text == "<script>x</script>"
    assert conv.output.messages[0].finish_reason == "tool_call"
    assert conv.output.messages[0].parts[0].name == "lookup"
    assert [t.name for t in conv.tools] == ["lookup"]
    assert not conv.truncated
    breakdown = detail.breakdown
    assert breakdown is not None
    rates = default_pricebook().rates("claude-sonnet-4-5")
    assert rates is not None
    expected = rates.cost(Usage(input_tokens=100, output_tokens=50, cache_read_tokens=1000, cache_write_5m_tokens=200))
    assert float(breakdown.total_usd) == pytest.approx(expected, rel=1e-6)
    assert breakdown.cache_read_usd < breakdown.cache_write_usd  # 1000 reads at 0.1x cost less than 200 writes at 1.25x


def test_call_detail_without_price_or_content_and_unknown_ids(conn: psycopg.Connection[Any]) -> None:
    call = Call(
        NOW,
        model="my-own-model-x",
        cost=Decimal("0.5"),
        input_body='[{"role": "user", "parts": [{"ty',
        content_truncated=True,
    )
    insert(conn, [call])
    detail = call_detail(conn, call.trace_id, call.span_id)
    assert detail is not None
    assert detail.breakdown is None
    assert detail.cost_usd == Decimal("0.5")
    assert detail.conversation.truncated
    assert detail.conversation.input.raw == call.input_body
    assert call_detail(conn, call.trace_id, secrets.token_hex(8)) is None
