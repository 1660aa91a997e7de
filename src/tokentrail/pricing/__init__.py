"""Cost of a call from its token usage: prompt caching (5-minute and 1-hour writes), batch discount, tiers.

Prices come from a user override file (if configured) and then from the `genai-prices` data package. Looking a
model up in the data is slow next to the arithmetic, so a model's prices are resolved ONCE per (provider, model,
batch) into a small frozen `ModelRates` record of USD-per-token rates, and every call after that is plain
arithmetic. Resolved records are memoised in a bounded table; a record whose prices are scheduled to change (a
dated price in the data) expires at that moment and is resolved again.

The modules, one concern each: `usage` (the `Usage` and `Cost` records), `rates` (resolved rates and the pricing
factors), `models` (model-name canonicalisation), `overrides` (the override file), `data` (the genai-prices
data), `book` (`PriceBook`, `pricebook()`, `default_pricebook()`).

Pricing rules (Anthropic's published rules, applied when the data lacks a specific rate):

- cache read = 0.1 x base input; 5-minute cache write = 1.25 x base input; 1-hour cache write = 2 x base input.
  When the data only has one cache-write rate, it is the 5-minute rate. (For non-Claude models a missing cache
  rate falls back to the base input rate: no discount is assumed.)
- batch (Message Batches API) = the data's batch prices when it has them, else 50% of every rate.
- server-side web searches (`Usage.web_search_requests`) = the data's price per search ($10 per 1,000 for Claude),
  batch or not (no batch rate is published for them); override files price tokens only.
- fast mode (`Usage.fast`, from `usage.speed == "fast"`) = the data's fast-mode prices where it has them, else the
  standard ones; batch prices win (fast mode is not offered for batches). Service tiers (`priority`) are not
  priced apart: the data has no tier prices.
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

from tokentrail.errors import PricingError
from tokentrail.pricing.book import PriceBook, default_pricebook, pricebook
from tokentrail.pricing.models import canonical_model_name
from tokentrail.pricing.rates import ModelRates
from tokentrail.pricing.usage import Cost, Usage

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
