"""Resolved prices as USD-per-token rates, ready for arithmetic, and Anthropic's published pricing factors.

A model's prices are resolved once into a frozen `ModelRates` (base rates plus optional tiers), so that pricing a
call is plain arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tokentrail.pricing.usage import Usage

__all__ = [
    "BATCH_FACTOR",
    "CACHE_READ_FACTOR",
    "CACHE_WRITE_1H_FACTOR",
    "CACHE_WRITE_5M_FACTOR",
    "NEVER",
    "PER_MTOK",
    "RATE_FIELDS",
    "ModelRates",
    "Rates",
]

PER_MTOK = 1_000_000.0
CACHE_READ_FACTOR = 0.1
"""Cache read = 0.1 x base input."""
CACHE_WRITE_5M_FACTOR = 1.25
"""5-minute cache write = 1.25 x base input."""
CACHE_WRITE_1H_FACTOR = 2.0
"""1-hour cache write = 2 x base input."""
BATCH_FACTOR = 0.5
"""Message Batches API: 50% of every rate (when the data has no batch prices)."""
NEVER = math.inf
RATE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
"""The kinds of token priced separately, in the order of `Rates`' fields."""


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token for each kind of token."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float
    web_search: float = 0.0
    """USD per server-side web search (a request, not a token)."""

    def scaled(self, factor: float) -> Rates:
        """Every token rate times `factor`; web searches keep their price (no batch rate is published for them)."""
        return Rates(
            self.input * factor,
            self.output * factor,
            self.cache_read * factor,
            self.cache_write_5m * factor,
            self.cache_write_1h * factor,
            self.web_search,
        )

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_5m_tokens * self.cache_write_5m
            + usage.cache_write_1h_tokens * self.cache_write_1h
            + usage.web_search_requests * self.web_search
        )


@dataclass(frozen=True, slots=True)
class ModelRates:
    """A model's resolved prices: base rates plus optional tiers, ready for arithmetic."""

    model: str
    """The priced model (the data's model id or the override pattern)."""
    source: str
    base: Rates
    tiers: tuple[tuple[int, Rates], ...] = ()
    """(threshold, rates), ascending: rates apply to every token when total input exceeds the threshold."""
    valid_until: float = NEVER
    """Epoch seconds after which the data schedules a price change; the record is then resolved again."""

    def rates_for(self, total_input_tokens: int) -> Rates:
        rates = self.base
        for threshold, tier in self.tiers:
            if total_input_tokens > threshold:
                rates = tier
            else:
                break
        return rates

    def cost(self, usage: Usage) -> float:
        if self.tiers:
            return self.rates_for(usage.total_input_tokens).cost(usage)
        return self.base.cost(usage)

    def per_million(self, total_input_tokens: int = 0) -> dict[str, float]:
        """The rates in USD per million tokens (for display, reports and tests)."""
        rates = self.rates_for(total_input_tokens)
        return {
            "input": rates.input * PER_MTOK,
            "output": rates.output * PER_MTOK,
            "cache_read": rates.cache_read * PER_MTOK,
            "cache_write_5m": rates.cache_write_5m * PER_MTOK,
            "cache_write_1h": rates.cache_write_1h * PER_MTOK,
        }
