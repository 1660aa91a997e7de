"""Cost of a call from its token usage: prompt caching (5-minute and 1-hour writes), batch discount, tiers.

Prices come from a user override file (if configured) and then from the `genai-prices` data package. Looking a
model up in `genai-prices` is slow (its `calc_price` costs ~150 µs), so a model's prices are resolved ONCE per
(provider, model, batch) into a small frozen `ModelRates` record of USD-per-token rates, and every call after
that is plain arithmetic (about a microsecond). Resolved records are memoised in a bounded table; a record whose
prices are scheduled to change (a dated price in the data) expires at that moment and is resolved again.

Pricing rules (Anthropic's published rules, applied when the data lacks a specific rate):

- cache read = 0.1 x base input; 5-minute cache write = 1.25 x base input; 1-hour cache write = 2 x base input.
  When the data only has one cache-write rate, it is the 5-minute rate. (For non-Claude models a missing cache
  rate falls back to the base input rate: no discount is assumed.)
- batch (Message Batches API) = the data's batch prices when it has them, else 50% of every rate.
- tiered ("long context") prices: when the request's total input (uncached + cache read + cache writes) exceeds a
  tier's threshold, that tier's rates apply to ALL tokens of the request (the cliff model Anthropic uses).

Model names are matched as given and, failing that, in canonical form: dated names (`claude-sonnet-4-5-20250929`)
resolve by prefix, Bedrock ids (`anthropic.claude-...-v1:0`, `us.anthropic.claude-...`) and Vertex ids
(`claude-sonnet-4-5@20250929`) are looked up in the Bedrock / Vertex price lists first (Bedrock regional
endpoints cost more) and then as the plain Anthropic model. An unknown model costs `None` and logs one warning.

Override file (TOML or JSON; `TOKENTRAIL_PRICES_FILE` or `instrument(prices_file=...)`), USD per million tokens::

    ["claude-sonnet-4-5"]            # exact model name (case-insensitive)
    input = 3.0
    output = 15.0
    cache_read = 0.3                 # optional: 0.1 x input
    cache_write_5m = 3.75            # optional: 1.25 x input
    cache_write_1h = 6.0             # optional: 2 x input

    ["my-finetune-*"]                # a trailing * makes a prefix pattern; the longest prefix wins
    input = 1
    output = 2
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokentrail.errors import PricingError

__all__ = [
    "Cost",
    "ModelRates",
    "PriceBook",
    "PricingError",
    "Usage",
    "canonical_model_name",
    "default_pricebook",
    "pricebook",
]

log = logging.getLogger(__name__)

_PER_MTOK = 1_000_000.0
_CACHE_READ_FACTOR = 0.1
_CACHE_WRITE_5M_FACTOR = 1.25
_CACHE_WRITE_1H_FACTOR = 2.0
_BATCH_FACTOR = 0.5
_MAX_CACHED_MODELS = 1024
_NEVER = math.inf


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call, in Anthropic's terms (each count is separate; nothing is included twice)."""

    input_tokens: int = 0
    """UNCACHED input tokens (Anthropic `usage.input_tokens`)."""
    output_tokens: int = 0
    """Output tokens, thinking included (billed as output)."""
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    """5-minute cache writes. When only a total `cache_creation_input_tokens` is known, it goes here."""
    cache_write_1h_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """All input: uncached + cache read + cache writes (the semconv `gen_ai.usage.input_tokens`)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_5m_tokens + self.cache_write_1h_tokens


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    source: str
    """`genai-prices <version>` or `override:<path to the file>`."""


@dataclass(frozen=True, slots=True)
class _Rates:
    """USD per token for each kind of token."""

    input: float
    output: float
    cache_read: float
    cache_write_5m: float
    cache_write_1h: float

    def scaled(self, factor: float) -> _Rates:
        return _Rates(
            self.input * factor,
            self.output * factor,
            self.cache_read * factor,
            self.cache_write_5m * factor,
            self.cache_write_1h * factor,
        )

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_5m_tokens * self.cache_write_5m
            + usage.cache_write_1h_tokens * self.cache_write_1h
        )


@dataclass(frozen=True, slots=True)
class ModelRates:
    """A model's resolved prices: base rates plus optional tiers, ready for arithmetic."""

    model: str
    """The priced model (the data's model id or the override pattern)."""
    source: str
    base: _Rates
    tiers: tuple[tuple[int, _Rates], ...] = ()
    """(threshold, rates), ascending: rates apply to every token when total input exceeds the threshold."""
    valid_until: float = _NEVER
    """Epoch seconds after which the data schedules a price change; the record is then resolved again."""

    def rates_for(self, total_input_tokens: int) -> _Rates:
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
            "input": rates.input * _PER_MTOK,
            "output": rates.output * _PER_MTOK,
            "cache_read": rates.cache_read * _PER_MTOK,
            "cache_write_5m": rates.cache_write_5m * _PER_MTOK,
            "cache_write_1h": rates.cache_write_1h * _PER_MTOK,
        }


# --- model names -------------------------------------------------------------------------------------------

_BEDROCK_ID = re.compile(r"^(?:(?P<region>[a-z]{2,}(?:-[a-z]+)?)\.)?anthropic\.(?P<model>.+?)(?:-v\d+(?::\d+)?)?$")
_VERTEX_ID = re.compile(r"^(?P<model>claude-[^@]+)@(?P<version>[\w.-]+)$")
_VERTEX_DATE = re.compile(r"^\d{8}$")

_PROVIDER_ALIASES = {
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "aws": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "google": "google",
}


def canonical_model_name(model: str) -> str:
    """The plain Anthropic model name behind a Bedrock or Vertex model id (lowercased).

    `us.anthropic.claude-sonnet-4-5-20250929-v1:0` -> `claude-sonnet-4-5-20250929`;
    `claude-sonnet-4-5@20250929` -> `claude-sonnet-4-5-20250929`; other names are returned lowercased.
    """
    name = model.strip().lower().rsplit("/", 1)[-1]  # Bedrock inference-profile ARNs end with the model id
    if match := _BEDROCK_ID.match(name):
        return match["model"]
    if match := _VERTEX_ID.match(name):
        version = match["version"]
        return f"{match['model']}-{version}" if _VERTEX_DATE.match(version) else match["model"]
    return name


def _platform_of(model: str) -> str | None:
    """`aws` for a Bedrock model id, `google` for a Vertex one, else None."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    if _BEDROCK_ID.match(name):
        return "aws"
    if _VERTEX_ID.match(name):
        return "google"
    return None


# --- overrides ----------------------------------------------------------------------------------------------

_OVERRIDE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
_REQUIRED_FIELDS = ("input", "output")


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line where `key` is first written as a quoted or bare key in the file text."""
    for candidate in (f'"{key}"', f"'{key}'", key):
        for number, line in enumerate(text.splitlines(), start=1):
            if candidate in line:
                return number
    return None


def _load_overrides(path: Path) -> tuple[dict[str, _Rates], list[tuple[str, _Rates]]]:
    """Parse and validate an override file into exact names and prefix patterns (longest first)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(f"{path}: cannot read the price override file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PricingError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PricingError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised on Python 3.10 only
            import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            lineno = getattr(exc, "lineno", None)  # Python 3.14+; older versions only say it in the message
            if lineno is None and (found := re.search(r"\(at line (\d+), column \d+\)", str(exc))):
                lineno = int(found[1])
            where = f"{path}:{lineno}" if lineno else str(path)
            raise PricingError(f"{where}: invalid TOML: {exc}") from None

    if not isinstance(data, dict):
        raise PricingError(f"{path}: expected a mapping of model name -> prices, got {type(data).__name__}")
    if set(data) == {"models"} and isinstance(data["models"], dict):
        data = data["models"]

    exact: dict[str, _Rates] = {}
    prefixes: list[tuple[str, _Rates]] = []
    for key, entry in data.items():
        line = _line_of(text, key)
        where = f"{path}:{line}" if line else str(path)
        name = str(key).strip().lower()
        if not name or name == "*":
            raise PricingError(f"{where}: model name {key!r} must not be empty")
        if not isinstance(entry, dict):
            raise PricingError(
                f"{where}: model {key!r}: expected a table of prices "
                f"({', '.join(_OVERRIDE_FIELDS)}), got {type(entry).__name__}"
            )
        unknown = sorted(set(entry) - set(_OVERRIDE_FIELDS))
        if unknown:
            raise PricingError(
                f"{where}: model {key!r}: unknown field {unknown[0]!r} (allowed: {', '.join(_OVERRIDE_FIELDS)})"
            )
        values: dict[str, float] = {}
        for field in _OVERRIDE_FIELDS:
            if field not in entry:
                if field in _REQUIRED_FIELDS:
                    raise PricingError(f"{where}: model {key!r}: missing required field {field!r}")
                continue
            raw = entry[field]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw < 0:
                raise PricingError(
                    f"{where}: model {key!r}: field {field!r} must be a non-negative number "
                    f"(USD per million tokens), got {raw!r}"
                )
            values[field] = float(raw) / _PER_MTOK
        base_input = values["input"]
        rates = _Rates(
            input=base_input,
            output=values["output"],
            cache_read=values.get("cache_read", base_input * _CACHE_READ_FACTOR),
            cache_write_5m=values.get("cache_write_5m", base_input * _CACHE_WRITE_5M_FACTOR),
            cache_write_1h=values.get("cache_write_1h", base_input * _CACHE_WRITE_1H_FACTOR),
        )
        if name.endswith("*"):
            prefixes.append((name[:-1], rates))
        else:
            exact[name] = rates
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return exact, prefixes


# --- genai-prices -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _genai_prices_source() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"genai-prices {version('genai-prices')}"
    except PackageNotFoundError:  # pragma: no cover - vendored or unusual installs
        return "genai-prices"


def _decimal_rate(value: Any) -> tuple[float, tuple[tuple[int, float], ...]] | None:
    """A genai-prices price (Decimal or TieredPrices, USD/MTok) as (base per token, ((threshold, per token), ...))."""
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return float(value) / _PER_MTOK, ()
    base = getattr(value, "base", None)
    tiers = getattr(value, "tiers", None)
    if base is None or tiers is None:
        return None
    return float(base) / _PER_MTOK, tuple(sorted((int(t.start), float(t.price) / _PER_MTOK) for t in tiers))


def _rates_from_model_price(price: Any, *, claude: bool) -> tuple[_Rates, tuple[tuple[int, _Rates], ...]] | None:
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
        "cache_read": _CACHE_READ_FACTOR if claude else 1.0,
        "cache_write_5m": _CACHE_WRITE_5M_FACTOR if claude else 1.0,
        "cache_write_1h": _CACHE_WRITE_1H_FACTOR if claude else 1.0,
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

    def rates_at(threshold: int | None) -> _Rates:
        return _Rates(*(rate_at(name, threshold) for name in _OVERRIDE_FIELDS))

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
        return _NEVER
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


def _resolve_genai_prices(provider: str, model: str, batch: bool, now: datetime) -> ModelRates | None:
    provider_id = _PROVIDER_ALIASES.get(provider.lower(), provider.lower())
    canonical = canonical_model_name(model)
    attempts: list[tuple[str, str]] = []
    platform = _platform_of(model)
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
    model_price = model_info.get_prices(now)
    if batch:
        try:
            batch_price = model_info.get_prices(now, {"processing": "batch"})
        except TypeError:  # genai-prices before price variants (0.1): no batch prices in the data
            batch_price = model_price
        if batch_price == model_price:  # no batch prices in the data: the published 50% discount
            scale = _BATCH_FACTOR
        else:
            model_price = batch_price
    resolved = _rates_from_model_price(model_price, claude=claude)
    if resolved is None:
        return None
    base, tiers = resolved
    if scale != 1.0:
        base = base.scaled(scale)
        tiers = tuple((threshold, rates.scaled(scale)) for threshold, rates in tiers)
    return ModelRates(
        model=str(model_info.id),
        source=_genai_prices_source(),
        base=base,
        tiers=tiers,
        valid_until=_next_change(model_info, now),
    )


# --- the price book -----------------------------------------------------------------------------------------

_UNKNOWN = ModelRates(model="", source="", base=_Rates(0.0, 0.0, 0.0, 0.0, 0.0))
"""Memoised marker for a model with no price (so the lookup and the warning happen once)."""


class PriceBook:
    """Prices for models: override file first, then the genai-prices data. Thread-safe; `cost` is cheap."""

    def __init__(self, overrides_file: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        """`overrides_file`: a TOML or JSON price file (see the module docs). `clock`: epoch seconds (for tests)."""
        self._clock = clock
        self.overrides_file = Path(overrides_file) if overrides_file is not None else None
        self._exact: dict[str, _Rates] = {}
        self._prefixes: list[tuple[str, _Rates]] = []
        self._override_source = ""
        if self.overrides_file is not None:
            self._exact, self._prefixes = _load_overrides(self.overrides_file)
            self._override_source = f"override:{self.overrides_file}"
        self._cache: dict[tuple[str, str, bool], ModelRates] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def cost(self, model: str, usage: Usage, *, batch: bool = False, provider: str = "anthropic") -> Cost | None:
        """The cost of `usage` on `model`, or None when the model has no known price (warned once per model)."""
        rates = self._cache.get((provider, model, batch))
        if rates is None or rates.valid_until <= self._clock():
            rates = self._resolve(provider, model, batch)
        if rates is _UNKNOWN:
            return None
        return Cost(rates.cost(usage), rates.source)

    def rates(self, model: str, *, batch: bool = False, provider: str = "anthropic") -> ModelRates | None:
        """The resolved prices of `model` (memoised like `cost`), or None when unknown."""
        rates = self._cache.get((provider, model, batch))
        if rates is None or rates.valid_until <= self._clock():
            rates = self._resolve(provider, model, batch)
        return None if rates is _UNKNOWN else rates

    def warm(self) -> None:
        """Load the genai-prices data now (it takes a fraction of a second) rather than on the first call."""
        try:
            from genai_prices import data_snapshot

            data_snapshot.get_snapshot()
            _genai_prices_source()
        except Exception:  # pragma: no cover - the first cost() will log the problem
            log.debug("could not preload the genai-prices data", exc_info=True)

    def _resolve(self, provider: str, model: str, batch: bool) -> ModelRates:
        try:
            rates = self._lookup(provider, model, batch)
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
            self._cache[(provider, model, batch)] = rates
        return rates

    def _lookup(self, provider: str, model: str, batch: bool) -> ModelRates | None:
        override = self._override(model)
        if override is not None:
            name, rates = override
            if batch:
                rates = rates.scaled(_BATCH_FACTOR)
            return ModelRates(model=name, source=self._override_source, base=rates)
        if not model:
            return None
        return _resolve_genai_prices(provider, model, batch, datetime.fromtimestamp(self._clock(), tz=timezone.utc))

    def _override(self, model: str) -> tuple[str, _Rates] | None:
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
