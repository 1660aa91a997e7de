"""The price override file: TOML and JSON, exact names and prefix patterns, clear errors for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.prices import MTOK, SONNET_4_5, usd, write
from tokentrail.pricing import PriceBook, PricingError, Usage


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
