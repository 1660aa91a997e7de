"""Prompt-cache figures per model: hit rate and the money cache reads saved.

A cache read is billed at the model's cache-read rate instead of its input rate, so the saving of a call is
`cache_read_tokens x (input rate - cache-read rate)`, priced with `tokentrail.pricing` at the model's base rates
(an approximation: long-context tiers and batch discounts are not applied, and cache writes, which cost more than
plain input, are not netted off). A model the price data does not know has no saving (None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tokentrail.pricing import PriceBook, default_pricebook
from tokentrail.reports.callfilter import CallFilter
from tokentrail.reports.queries import Connection, StatsRow, stats

__all__ = ["CacheRow", "cache_by_model", "cache_rows"]


@dataclass(frozen=True)
class CacheRow:
    model: str | None
    calls: int
    input_tokens: int
    """Including cache reads and writes, as on the span."""
    cache_read_tokens: int
    cache_write_tokens: int
    hit_ratio: float | None
    """cache_read_tokens / input_tokens; None without input tokens."""
    saved_usd: Decimal | None
    """What the cache reads would have cost more at the input rate; None for a model without prices."""


def cache_by_model(conn: Connection, where: CallFilter, book: PriceBook | None = None) -> list[CacheRow]:
    """Cache use and savings per model for the calls `where` selects, most saved first."""
    return cache_rows(stats(conn, where, "model"), book)


def cache_rows(by_model: Iterable[StatsRow], book: PriceBook | None = None) -> list[CacheRow]:
    """`cache_by_model` from per-model stats already read (`queries.stats` or `rollup.stats` by model)."""
    book = book or default_pricebook()
    rows = []
    for row in by_model:
        rates = book.rates(row.key) if row.key else None
        saved = None
        if rates is not None:
            per_token = Decimal(str(rates.base.input)) - Decimal(str(rates.base.cache_read))
            saved = (per_token * row.cache_read_tokens).quantize(Decimal("0.000001"))
        rows.append(
            CacheRow(
                row.key,
                row.calls,
                row.input_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
                row.cache_hit_ratio,
                saved,
            )
        )
    return sorted(rows, key=lambda r: (-(r.saved_usd or 0), -r.cache_read_tokens, r.model or ""))
