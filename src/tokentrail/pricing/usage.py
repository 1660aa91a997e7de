"""The records pricing takes and gives: a call's token `Usage` and its `Cost`."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Cost", "Usage", "new_cost", "new_usage"]


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
    web_search_requests: int = 0
    """Server-side web searches (`usage.server_tool_use.web_search_requests`), priced per request."""
    fast: bool = False
    """Served in fast mode (`usage.speed == "fast"`): priced at the data's fast-mode prices where it has them."""

    @property
    def total_input_tokens(self) -> int:
        """All input: uncached + cache read + cache writes (the semconv `gen_ai.usage.input_tokens`)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_5m_tokens + self.cache_write_1h_tokens


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float
    source: str
    """`genai-prices <version>` or `override:<path to the file>`."""


# --- the hot path's constructors --------------------------------------------------------------------------------
# A frozen dataclass's `__init__` sets each field through `object.__setattr__`; these set the slots through their
# descriptors instead (what `object.__setattr__` ends in), about twice as fast. Same objects: equal, same hash,
# still frozen. Every priced call makes one `Usage` and one `Cost`.

_new = object.__new__
(
    _set_input,
    _set_output,
    _set_cache_read,
    _set_write_5m,
    _set_write_1h,
    _set_searches,
    _set_fast,
) = (Usage.__dict__[field.name].__set__ for field in fields(Usage))
_set_usd, _set_source = (Cost.__dict__[field.name].__set__ for field in fields(Cost))


def new_usage(counts: tuple[int, int, int, int, int, int, bool]) -> Usage:
    """`Usage(*counts)`: every field, in order (the hot path's constructor)."""
    input_tokens, output_tokens, cache_read, write_5m, write_1h, searches, fast = counts
    usage: Usage = _new(Usage)
    _set_input(usage, input_tokens)
    _set_output(usage, output_tokens)
    _set_cache_read(usage, cache_read)
    _set_write_5m(usage, write_5m)
    _set_write_1h(usage, write_1h)
    _set_searches(usage, searches)
    _set_fast(usage, fast)
    return usage


def new_cost(usd: float, source: str) -> Cost:
    """`Cost(usd, source)` (the hot path's constructor)."""
    cost: Cost = _new(Cost)
    _set_usd(cost, usd)
    _set_source(cost, source)
    return cost
