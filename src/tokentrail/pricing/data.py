"""Prices from the `genai-prices` data package, resolved once per (provider, model, batch) into `ModelRates`.

Looking a model up in the data is slow next to the arithmetic of pricing a call, hence the resolution into a
record that `PriceBook` memoises. Missing cache rates are filled by Anthropic's factors for Claude models (for
other models by the base input rate: no discount is assumed); batch prices are the data's when it has them, else
50% of every rate; a dated price change in the data sets the record's `valid_until`.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from tokentrail.pricing.models import PROVIDER_ALIASES, canonical_model_name, platform_of
from tokentrail.pricing.rates import (
    BATCH_FACTOR,
    CACHE_READ_FACTOR,
    CACHE_WRITE_1H_FACTOR,
    CACHE_WRITE_5M_FACTOR,
    NEVER,
    PER_MTOK,
    RATE_FIELDS,
    ModelRates,
    Rates,
)

__all__ = ["genai_prices_source", "resolve", "warm"]


@lru_cache(maxsize=1)
def genai_prices_source() -> str:
    """`genai-prices <version>`: the source named on every cost priced from the data."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"genai-prices {version('genai-prices')}"
    except PackageNotFoundError:  # pragma: no cover - vendored or unusual installs
        return "genai-prices"


def warm() -> None:
    """Load the data snapshot (and its version) now rather than on the first lookup."""
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()
    genai_prices_source()


def _decimal_rate(value: Any) -> tuple[float, tuple[tuple[int, float], ...]] | None:
    """A genai-prices price (Decimal or TieredPrices, USD/MTok) as (base per token, ((threshold, per token), ...))."""
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return float(value) / PER_MTOK, ()
    base = getattr(value, "base", None)
    tiers = getattr(value, "tiers", None)
    if base is None or tiers is None:
        return None
    return float(base) / PER_MTOK, tuple(sorted((int(t.start), float(t.price) / PER_MTOK) for t in tiers))


def _per_search(price: Any) -> float | None:
    """USD per web search of a genai-prices ModelPrice (it states them per thousand), or None."""
    searches = getattr(price, "web_searches_kcount", None)
    return float(searches) / 1000 if isinstance(searches, Decimal | int | float) else None


def _rates_from_model_price(
    price: Any, *, claude: bool, per_search: float = 0.0
) -> tuple[Rates, tuple[tuple[int, Rates], ...]] | None:
    """Turn a genai-prices ModelPrice into base rates and tiers, filling missing cache rates by rule."""
    fields = {
        "input": _decimal_rate(getattr(price, "input_mtok", None)),
        "output": _decimal_rate(getattr(price, "output_mtok", None)),
        "cache_read": _decimal_rate(getattr(price, "cache_read_mtok", None)),
        "cache_write_5m": _decimal_rate(getattr(price, "cache_write_5m_mtok", None))
        or _decimal_rate(getattr(price, "cache_write_mtok", None)),
        "cache_write_1h": _decimal_rate(getattr(price, "cache_write_1h_mtok", None)),
    }
    input_rate = fields["input"]
    if input_rate is None or fields["output"] is None:
        return None
    factors = {
        "cache_read": CACHE_READ_FACTOR if claude else 1.0,
        "cache_write_5m": CACHE_WRITE_5M_FACTOR if claude else 1.0,
        "cache_write_1h": CACHE_WRITE_1H_FACTOR if claude else 1.0,
    }
    thresholds = sorted({threshold for rate in fields.values() if rate for threshold, _ in rate[1]})

    def rate_at(name: str, threshold: int | None) -> float:
        rate = fields[name]
        if rate is None:  # derive from the input rate at the same tier
            return rate_at("input", threshold) * factors[name]
        value = rate[0]
        if threshold is not None:
            for start, tier_value in rate[1]:
                if start <= threshold:
                    value = tier_value
        return value

    def rates_at(threshold: int | None) -> Rates:
        return Rates(**{name: rate_at(name, threshold) for name in RATE_FIELDS}, web_search=per_search)

    return rates_at(None), tuple((threshold, rates_at(threshold)) for threshold in thresholds)


def _next_change(model_info: Any, now: datetime) -> float:
    """Epoch seconds of the next dated price change scheduled for this model, or infinity."""
    today = now.date()
    starts: list[date] = []
    prices = getattr(model_info, "prices", None)
    if isinstance(prices, list):
        starts += [c.constraint.start_date for c in prices if getattr(c.constraint, "start_date", None)]
    for variant in getattr(model_info, "price_variants", None) or ():
        start = getattr(variant.constraint, "start_date", None)
        if start:
            starts.append(start)
    future = [d for d in starts if d > today]
    if not future:
        return NEVER
    first = min(future)
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc).timestamp()


def _find_model(provider_id: str, model: str) -> tuple[Any, Any] | None:
    """(provider, model info) from the genai-prices snapshot, or None."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        return snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None


def resolve(provider: str, model: str, batch: bool, now: datetime, *, fast: bool = False) -> ModelRates | None:
    """The prices of `model` at `now` from the data, or None when the data does not know it. `fast`: fast mode's
    prices where the data has them (else the standard ones); batch prices win over fast mode."""
    provider_id = PROVIDER_ALIASES.get(provider.lower(), provider.lower())
    canonical = canonical_model_name(model)
    attempts: list[tuple[str, str]] = []
    platform = platform_of(model)
    if provider_id == "anthropic" and platform is not None:
        attempts.append((platform, model.lower()))  # the platform's own price list knows its ids and surcharges
    attempts.append((provider_id, model.lower()))
    if canonical != model.lower():
        attempts.append((provider_id, canonical))
    if provider_id != "anthropic":
        attempts.append(("anthropic", canonical))
    found = None
    for attempt_provider, attempt_model in dict.fromkeys(attempts):
        found = _find_model(attempt_provider, attempt_model)
        if found is not None:
            break
    if found is None:
        return None
    provider_info, model_info = found
    claude = "claude" in str(model_info.id).lower() or provider_info.id == "anthropic"
    scale = 1.0
    model_price = standard = model_info.get_prices(now)
    if batch:
        try:
            batch_price = model_info.get_prices(now, {"processing": "batch"})
        except TypeError:  # genai-prices before price variants (0.1): no batch prices in the data
            batch_price = model_price
        if batch_price == model_price:  # no batch prices in the data: the published 50% discount
            scale = BATCH_FACTOR
        else:
            model_price = batch_price
    elif fast:
        # genai-prices before price variants (0.1) takes no context: no fast-mode prices in the data
        with contextlib.suppress(TypeError):
            model_price = model_info.get_prices(now, {"speed": "fast"})
    # Web searches: the batch price's when it has one, else the standard price (none is published for batches).
    per_search = _per_search(model_price) or _per_search(standard) or 0.0
    resolved = _rates_from_model_price(model_price, claude=claude, per_search=per_search)
    if resolved is None:
        return None
    base, tiers = resolved
    if scale != 1.0:
        base = base.scaled(scale)
        tiers = tuple((threshold, rates.scaled(scale)) for threshold, rates in tiers)
    return ModelRates(
        model=str(model_info.id),
        source=genai_prices_source(),
        base=base,
        tiers=tiers,
        valid_until=_next_change(model_info, now),
    )
