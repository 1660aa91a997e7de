"""`PriceBook`: published Anthropic prices, caching, batch, tiers, memoisation, unknown models, the default book."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fixtures.prices import (
    BEDROCK_REGIONAL_SONNET_4_5,
    HAIKU_4_5,
    MTOK,
    OPUS_4_1,
    SONNET_4_5,
    SONNET_4_5_LONG,
    usd,
    write,
)
from tokentrail import pricing
from tokentrail.pricing import PriceBook, Usage


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "CLAUDE-SONNET-4-5-20250929",
        "claude-sonnet-4-5@20250929",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ],
)
def test_sonnet_4_5_names_cost_the_published_price(book: PriceBook, model: str) -> None:
    cost = book.cost(model, Usage(input_tokens=100_000, output_tokens=100_000))
    assert cost is not None
    assert cost.usd == pytest.approx(usd(SONNET_4_5["input"], 100_000) + usd(SONNET_4_5["output"], 100_000))
    assert cost.source.startswith("genai-prices ")


@pytest.mark.parametrize(
    ("model", "published"),
    [("claude-haiku-4-5", HAIKU_4_5), ("claude-haiku-4-5-20251001", HAIKU_4_5), ("claude-opus-4-1", OPUS_4_1)],
)
def test_other_models_cost_the_published_price(book: PriceBook, model: str, published: dict[str, float]) -> None:
    cost = book.cost(model, Usage(input_tokens=2000, output_tokens=300))
    assert cost is not None
    assert cost.usd == pytest.approx(usd(published["input"], 2000) + usd(published["output"], 300))


@pytest.mark.parametrize(
    "model", ["anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
)
def test_bedrock_regional_ids_use_bedrock_prices(book: PriceBook, model: str) -> None:
    cost = book.cost(model, Usage(input_tokens=100_000, output_tokens=100_000))
    assert cost is not None
    assert cost.usd == pytest.approx(
        usd(BEDROCK_REGIONAL_SONNET_4_5["input"], 100_000) + usd(BEDROCK_REGIONAL_SONNET_4_5["output"], 100_000)
    )


def test_every_token_kind_is_priced_separately(book: PriceBook) -> None:
    usage = Usage(
        input_tokens=1200,
        output_tokens=800,
        cache_read_tokens=50_000,
        cache_write_5m_tokens=4000,
        cache_write_1h_tokens=2000,
    )
    expected = (
        usd(SONNET_4_5["input"], 1200)
        + usd(SONNET_4_5["output"], 800)
        + usd(SONNET_4_5["cache_read"], 50_000)
        + usd(SONNET_4_5["cache_write_5m"], 4000)
        + usd(SONNET_4_5["cache_write_1h"], 2000)
    )
    cost = book.cost("claude-sonnet-4-5-20250929", usage)
    assert cost is not None
    assert cost.usd == pytest.approx(expected, rel=1e-12)


def test_cache_write_rates_follow_the_published_multipliers(book: PriceBook) -> None:
    rates = book.rates("claude-haiku-4-5")
    assert rates is not None
    per_mtok = rates.per_million()
    assert per_mtok["cache_write_5m"] == pytest.approx(1.25 * HAIKU_4_5["input"])
    assert per_mtok["cache_write_1h"] == pytest.approx(2.0 * HAIKU_4_5["input"])
    assert per_mtok["cache_read"] == pytest.approx(0.1 * HAIKU_4_5["input"])


def test_batch_is_half_price(book: PriceBook) -> None:
    usage = Usage(input_tokens=10_000, output_tokens=2000, cache_read_tokens=1000)
    normal = book.cost("claude-sonnet-4-5", usage)
    batch = book.cost("claude-sonnet-4-5", usage, batch=True)
    assert normal is not None
    assert batch is not None
    assert batch.usd == pytest.approx(normal.usd / 2)
    opus = book.cost("claude-opus-4-1", Usage(input_tokens=MTOK), batch=True)
    assert opus is not None
    assert opus.usd == pytest.approx(OPUS_4_1["input"] / 2)


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"])
def test_web_searches_cost_ten_dollars_a_thousand_batch_or_not(book: PriceBook, model: str) -> None:
    """Anthropic bills each web search $0.01 on top of the tokens, and publishes no batch rate for them."""
    tokens = Usage(input_tokens=10_000, output_tokens=2000)
    searches = Usage(input_tokens=10_000, output_tokens=2000, web_search_requests=4)
    for batch in (False, True):
        plain, searched = book.cost(model, tokens, batch=batch), book.cost(model, searches, batch=batch)
        assert plain is not None
        assert searched is not None
        assert searched.usd - plain.usd == pytest.approx(4 * 10.0 / 1000), batch


def test_fast_mode_uses_the_fast_prices_where_the_data_has_them(book: PriceBook) -> None:
    """Claude Opus 5.5: $4 / $20 per MTok (cache reads 0.05x), fast mode $8 / $40 with the cache multipliers on
    top (Anthropic's fast-mode pricing); a model without fast-mode prices costs the same either way."""
    usage = Usage(input_tokens=MTOK, output_tokens=MTOK, cache_read_tokens=MTOK)
    standard = book.cost("claude-opus-5-5", usage)
    fast = book.cost("claude-opus-5-5", Usage(input_tokens=MTOK, output_tokens=MTOK, cache_read_tokens=MTOK, fast=True))
    assert standard is not None
    assert fast is not None
    assert standard.usd == pytest.approx(4 + 20 + 0.2)
    assert fast.usd == pytest.approx(8 + 40 + 0.4)
    plain = Usage(input_tokens=MTOK, output_tokens=MTOK)
    assert book.cost("claude-haiku-4-5", plain) == book.cost("claude-haiku-4-5", Usage(MTOK, MTOK, fast=True))
    batch_fast = book.cost("claude-opus-5-5", Usage(input_tokens=MTOK, fast=True), batch=True)
    assert batch_fast is not None
    assert batch_fast.usd == pytest.approx(2.0)  # batch prices win: fast mode is not offered for batches


def test_long_context_tier_applies_to_all_tokens_when_total_input_exceeds_200k(book: PriceBook) -> None:
    below = Usage(input_tokens=150_000, cache_read_tokens=50_000, output_tokens=1000)  # exactly 200K: base rates
    above = Usage(input_tokens=150_001, cache_read_tokens=50_000, output_tokens=1000)
    cost_below = book.cost("claude-sonnet-4-5", below)
    cost_above = book.cost("claude-sonnet-4-5", above)
    assert cost_below is not None
    assert cost_above is not None
    assert cost_below.usd == pytest.approx(
        usd(SONNET_4_5["input"], 150_000) + usd(SONNET_4_5["cache_read"], 50_000) + usd(SONNET_4_5["output"], 1000)
    )
    assert cost_above.usd == pytest.approx(
        usd(SONNET_4_5_LONG["input"], 150_001)
        + usd(SONNET_4_5_LONG["input"] / 10, 50_000)
        + usd(SONNET_4_5_LONG["output"], 1000)
    )


def test_unknown_model_returns_none_and_warns_once(book: PriceBook, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tokentrail.pricing")
    for _ in range(3):
        assert book.cost("no-such-model-7", Usage(input_tokens=10)) is None
    assert book.cost("", Usage(input_tokens=10)) is None
    warnings = [r for r in caplog.records if "no-such-model-7" in r.getMessage()]
    assert len(warnings) == 1


def test_resolution_is_memoised(book: PriceBook) -> None:
    first = book.rates("claude-sonnet-4-5-20250929")
    assert first is not None
    assert book.rates("claude-sonnet-4-5-20250929") is first
    assert book.rates("claude-sonnet-4-5-20250929", batch=True) is not first


def test_zero_usage_costs_zero(book: PriceBook) -> None:
    cost = book.cost("claude-haiku-4-5", Usage())
    assert cost is not None
    assert cost.usd == 0.0


def test_default_pricebook_reads_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "p.toml", '["zz-model"]\ninput = 1\noutput = 1\n')
    monkeypatch.setenv("TOKENTRAIL_PRICES_FILE", str(path))
    pricing.default_pricebook.cache_clear()
    try:
        book = pricing.default_pricebook()
        assert book is pricing.default_pricebook()
        assert book.overrides_file == path
        assert book is pricing.pricebook(path)
        cost = book.cost("zz-model", Usage(input_tokens=MTOK))
        assert cost is not None
        assert cost.usd == pytest.approx(1.0)
    finally:
        pricing.default_pricebook.cache_clear()
