"""`PriceBook`: the cost of a call from its token usage, override file first, then the genai-prices data.

A model's prices are resolved once per (provider, model, batch) and memoised in a bounded table, so `cost()` is
plain arithmetic after the first call; a record whose prices are scheduled to change expires at that moment and is
resolved again. An unknown model costs `None` and logs one warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from tokentrail.pricing import data
from tokentrail.pricing.models import canonical_model_name
from tokentrail.pricing.overrides import load_overrides
from tokentrail.pricing.rates import BATCH_FACTOR, NEVER, ModelRates, Rates
from tokentrail.pricing.usage import Cost, Usage, new_cost

__all__ = ["PriceBook", "default_pricebook", "pricebook"]

log = logging.getLogger(__name__)

_MAX_CACHED_MODELS = 1024
_UNKNOWN = ModelRates(model="", source="", base=Rates(0.0, 0.0, 0.0, 0.0, 0.0))
"""Memoised marker for a model with no price (so the lookup and the warning happen once)."""


class PriceBook:
    """Prices for models: override file first, then the genai-prices data. Thread-safe; `cost` is cheap."""

    def __init__(self, overrides_file: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        """`overrides_file`: a TOML or JSON price file (see `tokentrail.pricing`); `clock`: epoch seconds (tests)."""
        self._clock = clock
        self.overrides_file = Path(overrides_file) if overrides_file is not None else None
        self._exact: dict[str, Rates] = {}
        self._prefixes: list[tuple[str, Rates]] = []
        self._override_source = ""
        if self.overrides_file is not None:
            self._exact, self._prefixes = load_overrides(self.overrides_file)
            self._override_source = f"override:{self.overrides_file}"
        self._cache: dict[tuple[str, str, bool, bool], ModelRates] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def cost(self, model: str, usage: Usage, *, batch: bool = False, provider: str = "anthropic") -> Cost | None:
        """The cost of `usage` on `model`, or None when the model has no known price (warned once per model).
        A fast-mode `usage` is priced at the model's fast-mode prices when the data has them."""
        key = (provider, model, batch, usage.fast)
        rates = self._cache.get(key)
        if rates is None or (rates.valid_until != NEVER and rates.valid_until <= self._clock()):
            rates = self._resolve(*key)
        if rates is _UNKNOWN:
            return None
        return new_cost(rates.cost(usage) if rates.tiers else rates.base.cost(usage), rates.source)

    def rates(
        self, model: str, *, batch: bool = False, provider: str = "anthropic", fast: bool = False
    ) -> ModelRates | None:
        """The resolved prices of `model` (memoised like `cost`), or None when unknown."""
        key = (provider, model, batch, fast)
        rates = self._cache.get(key)
        if rates is None or rates.valid_until <= self._clock():
            rates = self._resolve(*key)
        return None if rates is _UNKNOWN else rates

    def warm(self) -> None:
        """Load the genai-prices data now (it takes a fraction of a second) rather than on the first call."""
        try:
            data.warm()
        except Exception:  # pragma: no cover - the first cost() will log the problem
            log.debug("could not preload the genai-prices data", exc_info=True)

    def _resolve(self, provider: str, model: str, batch: bool, fast: bool) -> ModelRates:
        try:
            rates = self._lookup(provider, model, batch, fast)
        except Exception:
            log.warning("tokentrail: could not resolve the price of model %r", model, exc_info=True)
            rates = None
        if rates is None:
            rates = _UNKNOWN
            with self._lock:
                first = model not in self._warned
                if first and len(self._warned) < _MAX_CACHED_MODELS:
                    self._warned.add(model)
            if first:
                log.warning(
                    "tokentrail: no price known for model %r (provider %r); its calls will have no cost. "
                    "Add it to a price override file (TOKENTRAIL_PRICES_FILE).",
                    model,
                    provider,
                )
        with self._lock:
            if len(self._cache) >= _MAX_CACHED_MODELS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[(provider, model, batch, fast)] = rates
        return rates

    def _lookup(self, provider: str, model: str, batch: bool, fast: bool) -> ModelRates | None:
        override = self._override(model)
        if override is not None:
            name, rates = override
            if batch:
                rates = rates.scaled(BATCH_FACTOR)
            return ModelRates(model=name, source=self._override_source, base=rates)
        if not model:
            return None
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        return data.resolve(provider, model, batch, now, fast=fast)

    def _override(self, model: str) -> tuple[str, Rates] | None:
        if not self._exact and not self._prefixes:
            return None
        names = dict.fromkeys((model.strip().lower(), canonical_model_name(model)))
        for name in names:
            if name in self._exact:
                return name, self._exact[name]
        for name in names:
            for prefix, rates in self._prefixes:
                if name.startswith(prefix):
                    return prefix + "*", rates
        return None


@lru_cache(maxsize=16)
def pricebook(prices_file: Path | None = None) -> PriceBook:
    """The process-wide PriceBook for an override file (or none); one instance per path."""
    return PriceBook(prices_file)


@lru_cache(maxsize=1)
def default_pricebook() -> PriceBook:
    """The process-wide PriceBook built from the environment's price file (`TOKENTRAIL_PRICES_FILE`), memoised."""
    import os

    from tokentrail._env import PRICES_FILE, optional_path

    return pricebook(optional_path(os.environ, PRICES_FILE))
