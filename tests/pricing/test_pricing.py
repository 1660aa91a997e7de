"""Pricing: published Anthropic prices (stated here independently of the data), caching, batch, tiers, overrides."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tokentrail import pricing
from tokentrail.pricing import PriceBook, PricingError, Usage, canonical_model_name

MTOK = 1_000_000

# Published Anthropic list prices, USD per million tokens (anthropic.com/pricing).
SONNET_4_5 = {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write_5m": 3.75, "cache_write_1h": 6.0}
SONNET_4_5_LONG = {"input": 6.0, "output": 22.50}  # requests with more than 200K input tokens
HAIKU_4_5 = {"input": 1.0, "output": 5.0}
OPUS_4_1 = {"input": 15.0, "output": 75.0}
BEDROCK_REGIONAL_SONNET_4_5 = {"input": 3.30, "output": 16.50}  # Bedrock regional endpoints: +10%


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


def usd(per_mtok: float, tokens: int) -> float:
    return per_mtok * tokens / MTOK


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


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        ("global.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1-20250805"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5-20251001",
        ),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2-20241022"),
        ("Claude-Haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_canonical_model_name(given: str, canonical: str) -> None:
    assert canonical_model_name(given) == canonical


# --- overrides ----------------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_override_is_consulted_first_and_names_its_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prices.toml",
        '["claude-sonnet-4-5"]\ninput = 2.0\noutput = 10.0\ncache_read = 0.5\n\n'
        '["my-finetune-*"]\ninput = 1\noutput = 4\n\n["my-finetune-large-*"]\ninput = 8\noutput = 16\n',
    )
    book = PriceBook(path)
    cost = book.cost("claude-sonnet-4-5", Usage(input_tokens=MTOK, output_tokens=MTOK, cache_read_tokens=MTOK))
    assert cost is not None
    assert cost.usd == pytest.approx(2.0 + 10.0 + 0.5)  # overrides have no long-context tier
    assert cost.source == f"override:{path}"
    # an exact name does not match a longer, dated name; that falls through to genai-prices
    dated = book.cost("claude-sonnet-4-5-20250929", Usage(input_tokens=100_000))
    assert dated is not None
    assert dated.usd == pytest.approx(usd(SONNET_4_5["input"], 100_000))
    assert dated.source.startswith("genai-prices")
    # prefix patterns: the longest prefix wins; unspecified cache rates follow Anthropic's multipliers
    small = book.rates("my-finetune-small")
    large = book.rates("my-finetune-large-v2")
    assert small is not None
    assert large is not None
    assert small.per_million()["input"] == pytest.approx(1.0)
    assert large.per_million()["input"] == pytest.approx(8.0)
    assert large.per_million()["cache_write_5m"] == pytest.approx(10.0)
    assert large.per_million()["cache_write_1h"] == pytest.approx(16.0)
    batch = book.cost("my-finetune-small", Usage(output_tokens=MTOK), batch=True)
    assert batch is not None
    assert batch.usd == pytest.approx(2.0)


def test_json_override_and_bedrock_ids_match_by_canonical_name(tmp_path: Path) -> None:
    path = write(tmp_path, "prices.json", '{"claude-haiku-4-5-20251001": {"input": 0.8, "output": 4}}')
    cost = PriceBook(path).cost("us.anthropic.claude-haiku-4-5-20251001-v1:0", Usage(input_tokens=MTOK))
    assert cost is not None
    assert cost.usd == pytest.approx(0.8)
    assert cost.source == f"override:{path}"


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("bad.toml", '["m"]\ninput = 1\noutput = \n', ["bad.toml:3", "invalid TOML"]),
        ("bad.json", '{"m": {"input": 1,\n "output": }}', ["bad.json:2", "invalid JSON"]),
        (
            "neg.toml",
            '["a"]\ninput = 1\noutput = 1\n\n["m"]\ninput = -1\noutput = 2\n',
            ["neg.toml:5", "'input'", "'m'"],
        ),
        ("str.toml", '["m"]\ninput = "3"\noutput = 2\n', ["str.toml:1", "'input'", "non-negative number"]),
        ("miss.toml", '["m"]\ninput = 3\n', ["miss.toml:1", "missing required field 'output'"]),
        (
            "extra.toml",
            '["m"]\ninput = 3\noutput = 1\ncache_write = 2\n',
            ["extra.toml:1", "unknown field 'cache_write'"],
        ),
        ("flat.json", '{"m": 3}', ["flat.json:1", "expected a table of prices"]),
        ("list.json", "[1, 2]", ["list.json", "expected a mapping"]),
    ],
)
def test_invalid_override_file_raises_a_clear_error(tmp_path: Path, name: str, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(PricingError) as info:
        PriceBook(path)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_override_file_raises(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read"):
        PriceBook(tmp_path / "absent.toml")


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
