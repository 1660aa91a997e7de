from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.fixtures.rows import Call, insert
from tokentrail.pricing import pricebook
from tokentrail.reports.cache import cache_by_model
from tokentrail.reports.callfilter import CallFilter

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def test_cache_savings_are_reads_priced_at_input_minus_cache_read(conn: psycopg.Connection[Any]) -> None:
    insert(
        conn,
        [
            Call(T0, model="claude-sonnet-4-5", input_tokens=1_100_000, cache_read=1_000_000),
            Call(T0, model="claude-sonnet-4-5", input_tokens=100, cache_read=0),
            Call(T0, model="not-a-known-model", input_tokens=500, cache_read=400),
        ],
    )
    book = pricebook()
    rates = book.rates("claude-sonnet-4-5")
    assert rates is not None
    rows = cache_by_model(conn, CallFilter(), book)
    known, unknown = rows
    assert (known.model, known.calls, known.cache_read_tokens) == ("claude-sonnet-4-5", 2, 1_000_000)
    expected = (Decimal(str(rates.base.input)) - Decimal(str(rates.base.cache_read))) * 1_000_000
    assert known.saved_usd == expected.quantize(Decimal("0.000001"))
    assert expected > 0
    assert known.hit_ratio == pytest.approx(1_000_000 / 1_100_100)
    assert (unknown.model, unknown.saved_usd, unknown.cache_read_tokens) == ("not-a-known-model", None, 400)
