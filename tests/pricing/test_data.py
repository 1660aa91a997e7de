"""Prices from the genai-prices data: a dated price change in the data takes effect on its day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.fixtures.prices import MTOK
from tokentrail.pricing import PriceBook, Usage


def test_a_scheduled_price_change_takes_effect_when_its_day_comes() -> None:
    from genai_prices import data_snapshot, types

    now = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    change = now.date() + timedelta(days=1)
    model = types.ModelInfo(
        id="claude-test-9",
        match=types.ClauseEquals(equals="claude-test-9"),
        prices=[
            types.ConditionalPrice(prices=types.ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))),
            types.ConditionalPrice(
                constraint=types.StartDateConstraint(start_date=change),
                prices=types.ModelPrice(input_mtok=Decimal(5), output_mtok=Decimal(10)),
            ),
        ],
    )
    provider = types.Provider(id="anthropic", name="Anthropic", api_pattern="x", models=[model])
    clock = [now.timestamp()]
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[provider], from_auto_update=False))
    try:
        book = PriceBook(clock=lambda: clock[0])
        before = book.cost("claude-test-9", Usage(input_tokens=MTOK, output_tokens=MTOK))
        rates = book.rates("claude-test-9")
        assert rates is not None
        assert rates.valid_until == datetime(2030, 5, 2, tzinfo=timezone.utc).timestamp()
        clock[0] = datetime(2030, 5, 2, 0, 0, 1, tzinfo=timezone.utc).timestamp()
        after = book.cost("claude-test-9", Usage(input_tokens=MTOK, output_tokens=MTOK))
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert before is not None
    assert after is not None
    assert before.usd == pytest.approx(1 + 2)
    assert after.usd == pytest.approx(5 + 10)
